import sys

from busmtl.cli import main

sys.exit(main())
