import sys

from lambda_fn.cli.main import main

sys.exit(main())
