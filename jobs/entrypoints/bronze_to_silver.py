"""spark-submit entry point; the job itself is in the marketpulse_jobs wheel (--py-files)."""

import sys

from marketpulse_jobs.bronze_to_silver import main

if __name__ == "__main__":
    sys.exit(main())
