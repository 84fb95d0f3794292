"""Omnigrok Section 4 / Figure 3 (and 10b): grokking on MNIST with a large initialization.

    python experiments/omnigrok_mnist.py \
        --flagfile=experiments/flags/omnigrok_mnist_digits_cpu.flags --workdir=runs/omnigrok_mnist

--source=mnist reads the real IDX files from --data_dir (--download fetches them
and checks their MD5s); --source=digits (offline default) uses scikit-learn's
bundled 8x8 digits as a stand-in, labeled so in every figure.
Parts: landscape (Fig. 3a-c over alpha x training size), dynamics (Fig. 3d
curves; with --scan_wds, Fig. 10b steps vs wd), size_scan (Fig. 3e).
"""

from grokjax import cli
from grokjax import omnigrok as common
from grokjax.data.mnist import SOURCES, mnist_dataset
from grokjax.models.vector_mlp import VECTOR_ACTIVATIONS, layer_sizes, make_vector_mlp

common.define_flags()
common.define_data_flags("MNIST", SOURCES, "digits", "offline 8x8 stand-in", "mnist/*.idx*-ubyte[.gz]",
                         0, "test images (0 = all that remain / the 10k test set)")
FLAGS = cli.FLAGS


def main(argv):
    del argv  # cli.parse_flags_or_exit already refused positional arguments
    cfg = common.settings(activations=VECTOR_ACTIVATIONS)
    dataset = common.load_data(mnist_dataset, SOURCES)
    d_in = dataset.inputs.shape[1]
    model = make_vector_mlp(layer_sizes(d_in, FLAGS.width, FLAGS.depth, 10), activation=FLAGS.activation,
                            matmul_dtype=common.matmul_dtype())
    if not FLAGS.pool_size:
        FLAGS.pool_size = FLAGS.n_pool
    label = f"{dataset.name}, depth-{FLAGS.depth} width-{FLAGS.width} {FLAGS.activation} MLP, {FLAGS.loss}"
    common.run_parts(cfg, dataset, model, label)


if __name__ == "__main__":
    cli.run_script(main)
