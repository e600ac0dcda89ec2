"""The resumable background training campaign: `python -m pixelrnn_tf.campaign --hours=2`.

Resumes every campaign run (the `campaign_*` experiment configs) from its committed workdir
`models/campaign/<run>/`, trains all of them at once, each in its own process, for a wall-time
budget, and leaves their checkpoints (one per run) behind to be committed. Re-running continues
exactly (the trainer's resume is exact: data order and optimizer state come from the
checkpoint). Meant to run at the lowest priority while the machine does other work:

    echo 0 > /proc/sys/kernel/sched_autogroup_enabled   # so that nice works between jobs
    nice -n 19 python -m pixelrnn_tf.campaign --hours=2.5 &

SIGTERM (or SIGINT) makes every run checkpoint at its next step and stop; SIGSTOP / SIGCONT to
the process group pause and resume it (e.g. around a benchmark). `--report` prints the table
of epochs, wall and CPU hours, validation NLLs and what each curve has left; `--plot=PATH`
draws the learning curves from the committed `eval_log.jsonl` files. `--mixed_precision=auto`
(the default) trains a mixed_bfloat16 run in float32 on a CPU without bfloat16 instructions.
"""

import json
import os
import re
import signal
import subprocess
import sys
import time

# TensorFlow's log lines: hidden by pixelrnn_tf/_quiet.py unless --verbose.

from absl import app, flags  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CAMPAIGN_DIR = os.path.join(REPO, "models", "campaign")
DEFAULT_SHARED = os.path.join(os.path.dirname(REPO), "shared", "data")
PREFIX = "campaign_"

# TensorFlow's pooling (BFC) allocator for the runs' CPU tensors. Its default CPU allocator
# calls malloc per tensor, and glibc maps and unmaps each multi-MB block of a training step
# anew: a run spent ~45% of its CPU time in the kernel on ~140,000 minor page faults/s. The
# pool keeps the blocks. Measured side by side (two runs, one core each, real trainer,
# docs/benchmarks/campaign_allocator.py): 2.0x the steps per second of the wide PixelCNN, 2.1x
# the Gated PixelCNN's; the kernel's share of CPU time fell from 41% to 4%. A value the
# user's environment already has is kept.
RUN_ENV = {"TF_CPU_ALLOCATOR_USE_BFC": "1"}

FLAGS = flags.FLAGS
flags.DEFINE_float("hours", 2.0, "Wall-time budget of this session's training, per run.")
flags.DEFINE_list("runs", None, "Campaign runs to train (default: every campaign_* config but "
                  "the STOPPED ones).")
flags.DEFINE_string("campaign_dir", CAMPAIGN_DIR, "Folder of the runs' workdirs.")
flags.DEFINE_string("data_dir", "/tmp/tfds", "TFDS data dir (prepared from --shared_data if "
                    "binarized_mnist is not there yet).")
flags.DEFINE_string("shared_data", DEFAULT_SHARED, "The project's shared/data folder.")
flags.DEFINE_integer("threads", None, "TF intra-op threads per run (default: 1 when several "
                     "runs share the CPU, else TF's default).")
flags.DEFINE_enum("mixed_precision", "auto", ["auto", "config", "none"],
                  "Policy of the runs. auto: each config's, but float32 (none) for a "
                  "mixed_bfloat16 run where the CPU has no bfloat16 instructions (emulated "
                  "there, many times slower); config: each config's as written; none: float32 "
                  "for all. float32 and mixed_bfloat16 share checkpoints: a run switches on "
                  "resume.")
flags.DEFINE_bool("report", False, "Print the table of the runs' progress and exit.")
flags.DEFINE_string("plot", None, "Draw the learning curves to this PNG and exit.")


# Runs that stopped improving or finished: trained only when --runs names them (they stay in
# the report and the plot). The constant-rate 7-layer PixelCNN plateaued at 30 epochs (0.03
# nat per epoch); its decay phase, campaign_mnist_pixel_cnn_decay, ended its 10-epoch cosine
# schedule at 88.55 nats (validation; 88.04 test). The PixelCNN continues as
# campaign_mnist_pixel_cnn_15, at the paper's 15 layers.
# REPLACED: runs that another run took over from, and that run. The first Multi-Scale run,
# at epoch 15 1.5 nats above the Row LSTM at the same epoch and fitted to stay 1.6 above it
# at epoch 30, gave way to a wider small network and a deeper upsampler
# (models/configs/campaign_mnist_multiscale_row_lstm_wide.py says why, measured).
# The h = 32 PixelCNN, after 2 of its 30 epochs, gave way to the same network trained under
# mixed_bfloat16, whose step is 1.53x faster here (its config says how that was measured).
REPLACED = {"campaign_mnist_multiscale_row_lstm": "campaign_mnist_multiscale_row_lstm_wide",
            "campaign_mnist_pixel_cnn_wide": "campaign_mnist_pixel_cnn_wide_bf16"}
# The Row LSTM finished its 30 epochs (its goal reached at epoch 27) in the twelfth session;
# the 15-layer h = 16 PixelCNN its 30 in the thirteenth, levelled at 85.1 nats (validation),
# leaving the PixelCNN goal to the h = 32 run. The Diagonal BiLSTM finished at 31 epochs in the
# eighteenth session (its goal reached at epoch 25.5; -0.02 nats per epoch at 30).
# PLATEAUED: runs whose validation NLL stopped improving (stopped_improving: no evaluation in
# the last PATIENCE beat their best). The Gated PixelCNN's best was 80.061 at epoch 18; by epoch
# 22 it was 80.109 while its training NLL kept falling (79.95 -> 79.23): it overfits at the
# constant rate, and a decay phase (which made the 7-layer PixelCNN's 10 epochs worth 0.19
# nats) would fit the training set harder still. It continues, from its step 35,000, with
# dropout: campaign_mnist_gated_pixel_cnn_dropout.
PLATEAUED = ("campaign_mnist_gated_pixel_cnn",)
STOPPED = ("campaign_mnist_pixel_cnn", "campaign_mnist_pixel_cnn_decay",
           "campaign_mnist_row_lstm", "campaign_mnist_pixel_cnn_15",
           "campaign_mnist_diagonal_bilstm") + tuple(REPLACED) + PLATEAUED


def run_names():
    from models import configs

    return [n for n in configs.names() if n.startswith(PREFIX)]


def read_eval_log(workdir):
    """The learning curve of a run: its eval_log.jsonl records, oldest first ([] if none)."""
    path = os.path.join(workdir, "eval_log.jsonl")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def start_epoch(workdir):
    """The epochs a run's weights had when it began: its source's, for a run started from
    another one (init_from.json, written by the trainer), else 0."""
    path = os.path.join(workdir, "init_from.json")
    if not os.path.exists(path):
        return 0.0
    with open(path) as f:
        return float(json.load(f)["epoch"])


def summary(campaign_dir, names):
    """One dict per run: steps and epochs done, wall and CPU hours, last and best validation NLL."""
    rows = []
    for name in names:
        workdir = os.path.join(campaign_dir, name)
        log = read_eval_log(workdir)
        clock = {}
        time_path = os.path.join(workdir, "train_time.json")
        if os.path.exists(time_path):
            with open(time_path) as f:
                clock = json.load(f)
        best = min(log, key=lambda r: r["nll_nats"]) if log else None
        rows.append(dict(run=name, step=log[-1]["step"] if log else 0,
                         epoch=log[-1]["epoch"] if log else 0.0,
                         hours=float(clock.get("seconds", 0.0)) / 3600,
                         cpu_hours=(float(clock["cpu_seconds"]) / 3600
                                    if "cpu_seconds" in clock else None),
                         cpu_from_step=clock.get("cpu_from_step"),
                         cpu_total_hours=_cpu_total_hours(workdir, clock),
                         last_nll=log[-1]["nll_nats"] if log else None,
                         best_nll=best["nll_nats"] if best else None,
                         best_epoch=best["epoch"] if best else None,
                         per_epoch=trend(log), fit=power_law_fit(log),
                         stalled=stopped_improving(log)))
    return rows


def checkpoint_step(workdir):
    """The step of the run's newest checkpoint file (None if it has none)."""
    directory = os.path.join(workdir, "checkpoints")
    if not os.path.isdir(directory):
        return None
    steps = [int(m.group(1)) for m in map(re.compile(r"ckpt-(\d+)\.index$").match,
                                          os.listdir(directory)) if m]
    return max(steps) if steps else None


def _cpu_total_hours(workdir, clock):
    """The run's CPU hours: measured when its clock counted CPU time from step 0, else
    extrapolated from the steps it did count (None when it counted none)."""
    if "cpu_seconds" not in clock:
        return None
    from_step = int(clock["cpu_from_step"])
    if from_step == 0:
        return float(clock["cpu_seconds"]) / 3600
    step = checkpoint_step(workdir)
    if step is None or step <= from_step:
        return None
    return float(clock["cpu_seconds"]) / (step - from_step) * step / 3600


TREND_INTERVALS = 3
PATIENCE = 3


def stopped_improving(log, patience=PATIENCE):
    """True when none of the last `patience` evaluations beat the best before them."""
    if len(log) <= patience:
        return False
    best = min(range(len(log)), key=lambda i: log[i]["nll_nats"])
    return best < len(log) - patience


def trend(log, intervals=TREND_INTERVALS):
    """Change of the validation NLL per epoch over the last `intervals` evaluations (negative:
    still improving), what the curve says is left; None with fewer than two evaluations."""
    recent = log[-(intervals + 1):]
    if len(recent) < 2 or recent[-1]["epoch"] == recent[0]["epoch"]:
        return None
    return ((recent[-1]["nll_nats"] - recent[0]["nll_nats"])
            / (recent[-1]["epoch"] - recent[0]["epoch"]))


FIT_FROM_EPOCH = 4
FIT_AT_EPOCH = 30


def power_law_fit(log, from_epoch=FIT_FROM_EPOCH):
    """Least-squares fit of NLL(epoch) = a + b * epoch ** -c to the validation curve from
    `from_epoch` on: a rough extrapolation of what the run has left (`a` is where the fitted
    curve levels off; an estimate, not a bound, and on the committed curves so far an
    optimistic one: README "Training campaign"). None with fewer than 4 evaluated epochs
    there. Returns dict(a, b, c, levels): `levels` is False when the best exponent is at the
    bottom of the searched range or the curve rises (b <= 0): a curve still falling about
    linearly, whose `a` means nothing; and False when `a` lies further below the fitted
    curve's last epoch than the curve fell over the fitted epochs: a small exponent reaches
    its level only far past the data (the 15-layer h = 16 PixelCNN at 30 epochs: c = 0.15,
    a = 71 nats, 14 below its last evaluation after falling 5.0 from epoch 4 on)."""
    import numpy as np

    by_epoch = {round(r["epoch"], 4): r["nll_nats"] for r in log if r["epoch"] >= from_epoch}
    if len(by_epoch) < 4:
        return None
    epochs = np.array(sorted(by_epoch), np.float64)
    nll = np.array([by_epoch[e] for e in sorted(by_epoch)], np.float64)
    best = None
    # For a fixed exponent the fit is linear in (a, b): search the exponent on a grid.
    exponents = np.linspace(0.05, 3.0, 296)
    for c in exponents:
        design = np.stack([np.ones_like(epochs), epochs ** -c], axis=1)
        (a, b), *_ = np.linalg.lstsq(design, nll, rcond=None)
        error = float(np.sum((design @ (a, b) - nll) ** 2))
        if best is None or error < best[0]:
            best = (error, dict(a=float(a), b=float(b), c=float(c)))
    fit = best[1]
    fell = fitted(fit, epochs[0]) - fitted(fit, epochs[-1])
    left = fitted(fit, epochs[-1]) - fit["a"]
    fit["levels"] = bool(fit["c"] > exponents[1] and fit["b"] > 0 and left <= fell)
    return fit


def fitted(fit, epoch):
    return fit["a"] + fit["b"] * epoch ** -fit["c"]


def format_summary(rows):
    lines = ["| run | epochs (evaluated) | wall hours | CPU hours | validation NLL, last | "
             f"best (epoch) | change per epoch (last {TREND_INTERVALS} evaluations) | "
             f"power-law fit (epochs >= {FIT_FROM_EPOCH}): at epoch {FIT_AT_EPOCH}, levels "
             "off at |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        last = "-" if r["last_nll"] is None else f"{r['last_nll']:.3f}"
        best = "-" if r["best_nll"] is None else f"{r['best_nll']:.3f} ({r['best_epoch']:.1f})"
        if r.get("stalled"):
            best += f"; stopped improving (none better in the last {PATIENCE})"
        slope = "-" if r.get("per_epoch") is None else f"{r['per_epoch']:+.3f}"
        fit = r.get("fit")
        extrapolated = ("-" if fit is None else
                        f"{fitted(fit, FIT_AT_EPOCH):.2f}, "
                        + (f"{fit['a']:.2f}" if fit["levels"] else "not levelling yet"))
        lines.append(f"| {r['run']} | {r['epoch']:.1f} | {r['hours']:.2f} | {_cpu_cell(r)} "
                     f"| {last} | {best} | {slope} | {extrapolated} |")
    return "\n".join(lines)


def _cpu_cell(row):
    if row.get("cpu_hours") is None:
        return "-"
    if not row["cpu_from_step"]:
        return f"{row['cpu_hours']:.2f}"
    total = row.get("cpu_total_hours")
    return (f"{row['cpu_hours']:.2f} since step {row['cpu_from_step']:,}"
            + (f" (~{total:.1f} in all at that rate)" if total is not None else ""))


def plot_curves(campaign_dir, names, path, goals=None):
    """Validation NLL (and the mean training NLL between evaluations) against epochs, one
    line per run, from the committed eval_log.jsonl files."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5), dpi=100)
    drawn, validation = 0, []
    for name in names:
        log = read_eval_log(os.path.join(campaign_dir, name))
        if not log:
            continue
        # A decay phase continues its source's curve: epochs counted from the source's.
        offset = start_epoch(os.path.join(campaign_dir, name))
        epochs = [offset + r["epoch"] for r in log]
        validation += [r["nll_nats"] for r in log]
        line, = ax.plot(epochs, [r["nll_nats"] for r in log], marker="o", markersize=3,
                        label=f"{name[len(PREFIX):]} (validation)")
        train = [(offset + r["epoch"], r["train_nll_nats"]) for r in log
                 if r.get("train_nll_nats")]
        if train:
            ax.plot(*zip(*train), linestyle=":", color=line.get_color())
        drawn += 1
    for label, value in (goals or {}).items():
        ax.axhline(value, color="grey", linewidth=0.6, linestyle="--")
        ax.annotate(label, (0.01, value), xycoords=("axes fraction", "data"), fontsize=7,
                    color="grey", va="bottom")
    if validation:
        # The first epochs' training loss (100+ nats) would flatten everything else.
        low = min(validation + list((goals or {}).values()))
        ax.set_ylim(low - 1.0, max(validation) + 3.0)
    ax.set_xlabel("epochs (50,000 images)")
    ax.set_ylabel("NLL, nats per image")
    ax.set_title("Binarized MNIST campaign (dotted: mean training NLL since last evaluation)")
    ax.grid(alpha=0.3)
    if drawn:
        ax.legend(fontsize=8)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return drawn


# Table 4 of the paper, drawn as reference lines.
PAPER_GOALS = {"PixelCNN 81.30": 81.30, "Row LSTM 80.54": 80.54,
               "Diagonal BiLSTM 79.20": 79.20}


def ensure_data(data_dir, shared_data):
    """Prepare binarized_mnist in `data_dir` from the project's shared/data once."""
    from pixelrnn_tf import data

    if not os.path.isdir(os.path.join(data_dir, "binarized_mnist")):
        if not os.path.isdir(shared_data):
            raise app.UsageError(f"{data_dir} has no binarized_mnist and --shared_data "
                                 f"{shared_data} does not exist.")
        data.prepare_offline_tfds(shared_data, data_dir)
    # Prepare the TFDS folder in this process, so the runs do not race to build it.
    data.load_split("binarized_mnist", "validation", data_dir, max_examples=1)


def run_policy(name, choice, bfloat16_emulated):
    """The --mixed_precision a campaign run is started with (None: its config's), for the
    campaign's --mixed_precision `choice` on a machine where bfloat16 is or is not emulated."""
    if choice == "config":
        return None
    if choice == "none":
        return "none"
    from pixelrnn_tf.training import config as config_lib

    if bfloat16_emulated and config_lib.resolve(name).mixed_precision == "mixed_bfloat16":
        return "none"
    return None


def train_all(names, campaign_dir, data_dir, seconds, threads=None, stream=sys.stdout,
              policies=None):
    """Train every run at once in its own process for `seconds` of wall time; return the
    exit codes. SIGTERM/SIGINT to this process is passed on (each run checkpoints, stops).
    `policies`: {run: --mixed_precision value} for the runs not trained under their
    config's policy."""
    policies = policies or {}
    env = {**RUN_ENV, **os.environ}
    threads = threads or (1 if len(names) > 1 else None)
    if threads:
        env.update(TF_NUM_INTRAOP_THREADS=str(threads), TF_NUM_INTEROP_THREADS=str(threads))
    procs = {}
    for name in names:
        workdir = os.path.join(campaign_dir, name)
        os.makedirs(workdir, exist_ok=True)
        log = open(os.path.join(workdir, "campaign.log"), "a")
        cmd = [sys.executable, "-m", "pixelrnn_tf.train", f"--model={name}",
               f"--workdir={workdir}", f"--data_dir={data_dir}", f"--max_seconds={seconds}"]
        if policies.get(name):
            cmd.append(f"--mixed_precision={policies[name]}")
        log.write(f"\n# {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(cmd)}\n")
        log.flush()
        procs[name] = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env,
                                       cwd=REPO)
        print(f"started {name} (pid {procs[name].pid}), log {log.name}", file=stream, flush=True)

    def forward(signum, frame):
        for p in procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)

    old = {s: signal.signal(s, forward) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        codes = {}
        for name, p in procs.items():
            while True:
                try:
                    codes[name] = p.wait()
                    break
                except KeyboardInterrupt:  # handled by forward(); keep waiting
                    continue
            print(f"{name} exited with {codes[name]}", file=stream, flush=True)
    finally:
        for s, h in old.items():
            signal.signal(s, h)
    return codes


def main(argv):
    del argv
    names = run_names()
    if FLAGS.runs:
        unknown = sorted(set(FLAGS.runs) - set(names))
        if unknown:
            raise app.UsageError(f"Unknown campaign run(s) {', '.join(unknown)}; known: "
                                 f"{', '.join(names)}.")
        names = [n for n in names if n in FLAGS.runs]
    if FLAGS.plot:
        drawn = plot_curves(FLAGS.campaign_dir, names, FLAGS.plot, PAPER_GOALS)
        print(f"{drawn} learning curve(s): {os.path.abspath(FLAGS.plot)}")
        return
    if not FLAGS.report:
        if FLAGS.hours <= 0:
            raise app.UsageError(f"--hours must be > 0, got {FLAGS.hours}.")
        ensure_data(FLAGS.data_dir, FLAGS.shared_data)
        if not FLAGS.runs:
            names = [n for n in names if n not in STOPPED]
        from pixelrnn_tf.training import hardware

        emulated = hardware.bfloat16_is_emulated()
        policies = {n: run_policy(n, FLAGS.mixed_precision, emulated) for n in names}
        for name, policy in policies.items():
            if policy:
                why = (" (bfloat16 is emulated on this CPU: " + hardware.describe_cpu() + ")"
                       if FLAGS.mixed_precision == "auto" else "")
                print(f"{name}: --mixed_precision={policy}{why}", flush=True)
        codes = train_all(names, FLAGS.campaign_dir, FLAGS.data_dir, FLAGS.hours * 3600,
                          FLAGS.threads, policies=policies)
        failed = [n for n, c in codes.items() if c]
        if failed:
            print(f"failed: {', '.join(failed)} (see their campaign.log)", flush=True)
    print(format_summary(summary(FLAGS.campaign_dir, names)), flush=True)


if __name__ == "__main__":
    from pixelrnn_tf import cli

    cli.run(main)
