"""Omnigrok Figure 4: a 2-layer LSTM on IMDb reviews, large (alpha 6, wd 1) vs standard init.

    python experiments/omnigrok_imdb.py \
        --flagfile=experiments/flags/omnigrok_imdb_synthetic_cpu.flags --workdir=runs/omnigrok_imdb

--source=imdb reads aclImdb_v1.tar.gz from --data_dir (--download fetches it, MD5
checked); --source=synthetic (offline default) trains on generated reviews, which
are NOT IMDb and are labeled so in every output.
"""
from absl import flags

from grokjax import cli
from grokjax import omnigrok as common
from grokjax.data.imdb import SOURCES, imdb_dataset
from grokjax.models.lstm import make_lstm

common.define_flags()
common.define_data_flags("IMDb", SOURCES, "synthetic", "generated stand-in", "imdb/aclImdb_v1.tar.gz",
                         1000, "held-out test reviews")
flags.DEFINE_integer("vocab_size", 1000, "most frequent words kept")
flags.DEFINE_integer("seq_len", 500, "tokens per review (left-padded)")
flags.DEFINE_integer("embed", 64, "embedding dimension")
FLAGS = cli.FLAGS


def main(argv):
    del argv  # cli.parse_flags_or_exit already refused positional arguments
    cfg = common.settings()
    dataset = common.load_data(imdb_dataset, SOURCES, vocab_size=FLAGS.vocab_size, seq_len=FLAGS.seq_len,
                               checked={"embed": FLAGS.embed})
    model = make_lstm(FLAGS.vocab_size, 2, embed=FLAGS.embed, hidden=FLAGS.width, layers=FLAGS.depth,
                      matmul_dtype=common.matmul_dtype())
    if not FLAGS.pool_size:
        FLAGS.pool_size = FLAGS.n_pool
    label = f"{dataset.name}, {FLAGS.depth}-layer LSTM {FLAGS.embed}/{FLAGS.width}, len {FLAGS.seq_len}"
    common.run_parts(cfg, dataset, model, label)


if __name__ == "__main__":
    cli.run_script(main)
