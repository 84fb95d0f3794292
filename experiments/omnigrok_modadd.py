"""Omnigrok Appendix B-D: modular addition (Figures 8, 9a, 9b, 10a).

    python experiments/omnigrok_modadd.py \
        --flagfile=experiments/flags/omnigrok_modadd_cpu.flags --workdir=runs/omnigrok_modadd

The paper setting (experiments/flags/omnigrok_modadd.flags) is Nanda et al.'s
1-layer transformer, p = 113; any --model of the engine works (the CPU-sized
flags use the engine's MLP, see docs/reproductions/omnigrok.md).
Parts: landscape (Fig. 8, alpha x train fraction), dynamics (Fig. 9a weight norm
and accuracy; with --scan_wds, Fig. 10a steps vs wd), constrained (Fig. 9b).
"""

from grokjax import cli
from grokjax import omnigrok as common
from grokjax.data.datasets import operation_dataset

common.define_flags()
FLAGS = cli.FLAGS


def main(argv):
    del argv  # cli.parse_flags_or_exit already refused positional arguments
    cfg = common.settings()
    # No frac here: the landscape sweeps it; the other parts' titles name it (common._train_size).
    label = f"{cfg.op} mod {cfg.p}, {cfg.model} width {cfg.width}"
    common.run_parts(cfg, operation_dataset(cfg.op, cfg.p), None, label)


if __name__ == "__main__":
    cli.run_script(main)
