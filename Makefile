# mmkd: every target creates the environment first when it is missing.
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.mmkd-env-ok

.PHONY: setup quickstart cls-quickstart test benchmark clean-env

$(STAMP): tools/setup_env.sh setup.cfg pyproject.toml
	PYTHON=$(PYTHON) tools/setup_env.sh $(VENV)

setup: $(STAMP)

# Generate the synthetic VOC-format data, pretrain the backbones on its
# object crops, train a teacher, fine-tune the student alone and the
# distilled students, and print the results table (docs/quickstart.md).
quickstart: $(STAMP)
	$(PY) tools/quickstart.py $(ARGS)

# The same for image classification (teacher / student alone / ICKD-C / KD).
cls-quickstart: $(STAMP)
	$(PY) tools/cls_quickstart.py $(ARGS)

test: $(STAMP)
	$(PY) -m pytest -q $(ARGS)

benchmark: $(STAMP)
	$(PY) tools/benchmark.py $(ARGS)

clean-env:
	rm -rf $(VENV)
