"""Style timeline: what fails, report by report, over a run's style reports (logic: awd/style/timeline.py).

    python benchmarks/style_timeline.py output/time_to_walk/<timestamp>
"""

from awd.style.timeline import main

if __name__ == "__main__":
    main()
