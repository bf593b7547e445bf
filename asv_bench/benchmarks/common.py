"""What several benchmark modules share: the timer used for ratios measured in one process."""
import time


def best_of(call, repeat=7, number=20):
    """The fastest mean time of `number` calls, over `repeat` runs (after one warm-up call)."""
    call()
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            call()
        best = min(best, (time.perf_counter() - start) / number)
    return best
