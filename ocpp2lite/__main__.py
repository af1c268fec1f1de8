import sys

from ocpp2lite.cli import main

sys.exit(main())
