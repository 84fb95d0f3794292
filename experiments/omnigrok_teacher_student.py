"""Omnigrok Section 3 / Figure 2: teacher-student regression with a 5-100-100-5 tanh MLP.

    python experiments/omnigrok_teacher_student.py \
        --flagfile=experiments/flags/omnigrok_teacher_student_cpu.flags --workdir=runs/omnigrok_ts

Parts: landscape (Fig. 2a, reduced L/U vs alpha), dynamics (Fig. 2b curves for
alphas x wds, and Fig. 2c steps to 95% vs wd at alpha 2 with the log-log slope).
"""

from grokjax import cli
from grokjax import omnigrok as common
from grokjax.data.teacher_student import teacher_student_dataset
from grokjax.models.vector_mlp import VECTOR_ACTIVATIONS, make_vector_mlp
from grokjax.train.memory import check_layers_fit

common.define_flags()
cli.flags.DEFINE_integer("teacher_seed", 0, "seed of the teacher network and the Gaussian inputs")
FLAGS = cli.FLAGS


def main(argv):
    del argv  # cli.parse_flags_or_exit already refused positional arguments
    cfg = common.settings(activations=VECTOR_ACTIVATIONS)
    sizes = [5, FLAGS.width, FLAGS.width, 5]
    try:  # the teacher is built with the data: its size is checked before (a student needs 4 copies)
        check_layers_fit(sizes, f"--width={FLAGS.width}", copies=5)
    except cli.ConfigError as err:
        cli.exit_on_config_error(err)
    dataset = teacher_student_dataset(width=FLAGS.width, n_train=100, n_test=100, seed=FLAGS.teacher_seed)
    model = make_vector_mlp(sizes, activation=FLAGS.activation, matmul_dtype=common.matmul_dtype())
    common.run_parts(cfg, dataset, model, "teacher-student " + "-".join(map(str, sizes)))


if __name__ == "__main__":
    cli.run_script(main)
