"""Omnigrok Figure 5: a 2-layer GCN predicting isotropic polarizability, alpha 3 vs 1, no weight decay.

    python experiments/omnigrok_qm9.py \
        --flagfile=experiments/flags/omnigrok_qm9_synthetic_cpu.flags --workdir=runs/omnigrok_qm9

--source=qm9 reads dsgdb9nsd.xyz.tar.bz2 from --data_dir (--download fetches it,
MD5 checked); --source=synthetic (offline default) uses generated molecule-like
graphs, which are NOT QM9 and are labeled so in every output.
"""

from grokjax import cli
from grokjax import omnigrok as common
from grokjax.data.qm9 import ELEMENTS, SOURCES, qm9_dataset
from grokjax.models.gcn import make_gcn

common.define_flags()
common.define_data_flags("QM9", SOURCES, "synthetic", "generated stand-in", "qm9/dsgdb9nsd.xyz.tar.bz2",
                         1000, "held-out test molecules")
FLAGS = cli.FLAGS


def main(argv):
    del argv  # cli.parse_flags_or_exit already refused positional arguments
    cfg = common.settings()
    dataset = common.load_data(qm9_dataset, SOURCES)
    model = make_gcn(len(ELEMENTS), hidden=FLAGS.width, layers=FLAGS.depth,
                     matmul_dtype=common.matmul_dtype())
    if not FLAGS.pool_size:
        FLAGS.pool_size = FLAGS.n_pool
    label = f"{dataset.name}, {FLAGS.depth}-layer GCN width {FLAGS.width}"
    common.run_parts(cfg, dataset, model, label)


if __name__ == "__main__":
    cli.run_script(main)
