import os
import sys

# The examples directory, for the seed's program.
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "examples"))
