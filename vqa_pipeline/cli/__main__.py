"""``python -m vqa_pipeline.cli``."""

import sys

from vqa_pipeline.cli import main

sys.exit(main())
