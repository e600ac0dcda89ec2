"""Training speed of campaign runs under TensorFlow's default CPU allocator and under the
campaign's `RUN_ENV` (the pooling BFC allocator), as the campaign trains: the real trainer (`python -m pixelrnn_tf.train`) on copies
of the runs' committed workdirs, the runs side by side, one TF thread each, for a wall-time
budget per variant and round. Prints steps/s (the budget counts from the training loop's start,
after set-up) and the kernel's share of the CPU time.

    python docs/benchmarks/campaign_allocator.py [--seconds=240] [--rounds=2] \
        [--runs=campaign_mnist_pixel_cnn_wide_bf16,campaign_mnist_gated_pixel_cnn_dropout] \
        [--data_dir=/work/tfds]

Why: with the default allocator (malloc per tensor; glibc maps and unmaps every multi-MB block)
a run spent ~45% of its CPU time in the kernel, ~140,000 minor page faults/s. Variants alternate in rounds so that the machine's drift hits them alike. Pause a
running campaign first (SIGSTOP), or it shares the cores.
"""

import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, REPO)

from absl import app, flags  # noqa: E402

# Its --runs and --data_dir name the runs to time here and where their data is.
from pixelrnn_tf import campaign  # noqa: E402

flags.DEFINE_integer("seconds", 240, "Training wall time per run, variant and round.")
flags.DEFINE_integer("rounds", 2, "Rounds of alternation.")
FLAGS = flags.FLAGS


def last_step(workdir):
    with open(os.path.join(workdir, "train_log.jsonl")) as f:
        return json.loads(f.readlines()[-1])["step"]


def train_side_by_side(runs, env, scratch):
    """{run: (steps per second, kernel share of CPU time)} of one round."""
    procs = {}
    for run in runs:
        workdir = os.path.join(scratch, run)
        shutil.rmtree(workdir, ignore_errors=True)
        shutil.copytree(os.path.join(campaign.CAMPAIGN_DIR, run), workdir)
        cmd = [sys.executable, "-m", "pixelrnn_tf.train", f"--model={run}",
               f"--workdir={workdir}", f"--data_dir={FLAGS.data_dir}",
               f"--max_seconds={FLAGS.seconds}", "--mixed_precision=none"]
        procs[run] = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, text=True)
    out = {}
    for run, p in procs.items():
        workdir = os.path.join(scratch, run)
        log = p.communicate()[0]
        if p.returncode:
            raise SystemExit(f"{run} failed:\n{log[-2000:]}")
        start = int(log.split("at step ")[1].split()[0])  # "resumed from ... at step N"
        out[run] = (last_step(workdir) - start) / FLAGS.seconds
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return out, usage


def main(argv):
    del argv
    import numpy as np

    runs = FLAGS.runs or ["campaign_mnist_pixel_cnn_wide_bf16",
                          "campaign_mnist_gated_pixel_cnn_dropout"]
    base = {k: v for k, v in os.environ.items() if k not in campaign.RUN_ENV}
    base.update(TF_NUM_INTRAOP_THREADS="1", TF_NUM_INTEROP_THREADS="1")
    variants = {"default allocator": base, "campaign.RUN_ENV": {**base, **campaign.RUN_ENV}}
    print(f"# {len(runs)} campaign runs side by side, real trainer, {FLAGS.seconds} s x "
          f"{FLAGS.rounds} rounds per variant; {os.uname().machine}, {os.cpu_count()} cores")
    rates = {(run, name): [] for run in runs for name in variants}
    kernel = {name: [0.0, 0.0] for name in variants}  # system, user CPU seconds
    scratch = tempfile.mkdtemp()
    previous = resource.getrusage(resource.RUSAGE_CHILDREN)
    for _ in range(FLAGS.rounds):
        for name, env in variants.items():
            out, usage = train_side_by_side(runs, env, scratch)
            kernel[name][0] += usage.ru_stime - previous.ru_stime
            kernel[name][1] += usage.ru_utime - previous.ru_utime
            previous = usage
            for run, rate in out.items():
                rates[run, name].append(rate)
    shutil.rmtree(scratch, ignore_errors=True)
    print("| run | default allocator steps/s | campaign.RUN_ENV steps/s | ratio |")
    print("|---|---:|---:|---:|")
    for run in runs:
        a, b = (float(np.median(rates[run, n])) for n in variants)
        print(f"| {run} | {a:.3f} | {b:.3f} | {b / a:.2f}x |")
    for name, (system, user) in kernel.items():
        print(f"kernel share of the runs' CPU time, {name}: {system / (system + user):.0%}")


if __name__ == "__main__":
    app.run(main)
