"""Whether this machine computes bfloat16 natively, so that `mixed_bfloat16` pays.

Measured on a 2-core AMD EPYC with AVX2 but no AVX-512 (the fifteenth session,
`python docs/benchmarks/campaign_precision.py campaign_mnist_pixel_cnn_wide_bf16`): the wide
campaign PixelCNN's mixed_bfloat16 step took 13.08 s against 1.70 s in float32, 7.7x SLOWER,
while on the machines with AVX-512 BF16 of the sessions before the campaign's runs were
1.17-1.55x faster under it. TensorFlow's CPU kernels emulate bfloat16 arithmetic when
the CPU has no bfloat16 instructions, so the policy is a hardware choice, not a model one.
"""

import platform

CPUINFO = "/proc/cpuinfo"
# x86: AVX-512 BF16 (Cooper Lake, Zen 4 and later) and AMX (Sapphire Rapids and later);
# Arm: the BF16 extension ("bf16" among the Features).
BFLOAT16_CPU_FLAGS = ("avx512_bf16", "amx_bf16", "bf16")


def cpu_flags(cpuinfo=CPUINFO):
    """The CPU feature flags of /proc/cpuinfo (x86 `flags`, Arm `Features`), or None where
    that file cannot be read (not Linux)."""
    try:
        with open(cpuinfo) as f:
            text = f.read()
    except OSError:
        return None
    flags = set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() in ("flags", "features"):
            flags.update(value.split())
    return flags


def cpu_has_native_bfloat16(flags=None):
    """True or False from the CPU's flags; None when they cannot be read."""
    flags = cpu_flags() if flags is None else flags
    if flags is None:
        return None
    return any(f in flags for f in BFLOAT16_CPU_FLAGS)


def has_gpu():
    """Whether TensorFlow sees a GPU."""
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


def bfloat16_is_emulated(flags=None, gpu=None):
    """True when a mixed_bfloat16 run would compute on a CPU without bfloat16 instructions:
    no GPU is visible and the CPU's flags are known and lack them. Unknown means False (the
    policy is left as asked)."""
    gpu = has_gpu() if gpu is None else gpu
    if gpu:
        return False
    return cpu_has_native_bfloat16(flags) is False


def emulated_bfloat16_warning(policy, remedy):
    """A one-line warning when `policy` is mixed_bfloat16 and this machine would emulate it,
    else None. `remedy`: what the user can do instead (ends the line)."""
    if policy != "mixed_bfloat16" or not bfloat16_is_emulated():
        return None
    return (f"warning: mixed_bfloat16 on a CPU without bfloat16 instructions ({describe_cpu()}) "
            f"is emulated and much slower than float32; {remedy}")


def describe_cpu():
    """One line naming the CPU's vector extensions that decide the choice."""
    flags = cpu_flags() or set()
    shown = [f for f in ("avx2", "avx512f") + BFLOAT16_CPU_FLAGS if f in flags]
    return f"{platform.machine()}, {', '.join(shown) or 'no AVX2 / AVX-512 / BF16 flags'}"
