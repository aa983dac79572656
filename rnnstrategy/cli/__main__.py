import sys

from rnnstrategy.cli import main

sys.exit(main())
