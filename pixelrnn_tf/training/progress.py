"""What a run shows and keeps of its time: the progress line and the training clock."""

import json
import os
import sys
import time


class Progress:
    """One status line: step, loss (nats/image and bits/dim), images/s, ETA."""

    def __init__(self, total, batch_size, stream=sys.stderr, start_step=0):
        """`start_step`: the step the loop starts from (a resumed run's checkpoint step): the
        first line's images/s count every step since then, not one."""
        self.total, self.batch_size, self.stream = total, batch_size, stream
        self.start = time.time()
        self.last_time, self.last_step = self.start, start_step

    def update(self, step, nats, bpd, final=False):
        now = time.time()
        rate = (step - self.last_step) * self.batch_size / max(now - self.last_time, 1e-9)
        eta = (self.total - step) * self.batch_size / max(rate, 1e-9)
        width = 24
        done = int(width * step / max(self.total, 1))
        bar = "=" * done + "." * (width - done)
        self.stream.write(f"\r[{bar}] step {step}/{self.total}  loss {nats:.3f} nats "
                          f"{bpd:.4f} bits/dim  {rate:.1f} img/s  ETA {eta:.0f}s ")
        if final:
            self.stream.write("\n")
        self.stream.flush()
        self.last_step, self.last_time = step, now
        return rate


class TrainClock:
    """Wall time and CPU time spent in the training loop over every (resumed) run of a workdir,
    as of the last checkpoint (time after a checkpoint that is lost to a kill is not counted).

    Wall time counts what the run waited for a CPU shared with other jobs (and SIGSTOP pauses);
    CPU time (`time.process_time`: every thread of the process) is what the run used. Workdirs
    written before CPU time was kept count it from the step they were first resumed at,
    `cpu_from_step`, so a partial count is never shown as the whole."""

    def __init__(self, workdir, step=0):
        self.path = workdir and os.path.join(workdir, "train_time.json")
        self.before, self.cpu_before, self.cpu_from_step = 0.0, 0.0, step
        if self.path and os.path.exists(self.path):
            with open(self.path) as f:
                kept = json.load(f)
            self.before = float(kept["seconds"])
            if "cpu_seconds" in kept:
                self.cpu_before = float(kept["cpu_seconds"])
                self.cpu_from_step = int(kept["cpu_from_step"])
        elif step:
            # Resumed from a checkpoint whose clock is gone (e.g. copied without it).
            self.cpu_from_step = step
        self.start, self.cpu_start = time.time(), time.process_time()

    def total(self):
        return self.before + time.time() - self.start

    def cpu_total(self):
        return self.cpu_before + time.process_time() - self.cpu_start

    def save(self):
        if self.path:
            tmp = self.path + ".tmp"
            with open(tmp, "w") as f:
                json.dump({"seconds": round(self.total(), 1),
                           "cpu_seconds": round(self.cpu_total(), 1),
                           "cpu_from_step": self.cpu_from_step}, f)
            os.replace(tmp, self.path)
