"""The A-share trading year."""

__all__ = ["PERIODS_PER_YEAR"]

PERIODS_PER_YEAR = 243
"""Trading days per year of the Shanghai/Shenzhen calendar (mean of 2006-2022: 243), used to
annualise daily figures."""
