"""Style: how close a policy's gait is to its reference clips, measured (gait metrics, a style classifier, the
"walks with style" verdict). Entry point: awd.style.judge (benchmarks/style.py)."""
