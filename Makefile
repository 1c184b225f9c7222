# UFFDIO_MOVE for Linux 6.1: the workbench.  Each target is one call of
# the small Python program in wb/ (python3 -m wb --help).
WB = python3 -m wb
CONFIG ?= guest
FILES ?=
TIMEOUT ?= 900
# guest clock: wall or icount (bench/README.md); empty: bench and run icount,
# vm and shell wall
CLOCK ?=
# x86_64, arm64 or i386; empty: x86_64, and for make check all three
ARCH ?=
A = $(if $(ARCH),--arch $(ARCH))

.PHONY: run bench profile check tree series series-check series-bisect build \
	vm shell check-host wb-selftests deps python3 stress

run: python3
	$(WB) vm --config guest --files workload --timeout $(TIMEOUT) --clock $(or $(CLOCK),icount) $(A) \
		'sh /wb/bin/run-demo'

bench: python3
	$(WB) bench $(if $(REF),--ref $(REF)) $(if $(CLOCK),--clock $(CLOCK)) $(A)

# CALLS: one-page moves, a multiple of 64; ANNOTATE: kernel functions whose
# instructions to show (bench/README.md)
profile: python3
	$(WB) profile $(if $(REF),--ref $(REF)) $(if $(CALLS),--calls $(CALLS)) $(A) \
		$(foreach f,$(ANNOTATE),--annotate $(f))

check: python3
	$(WB) check $(A)

tree: python3
	$(WB) tree $(if $(FORCE),--force)

series: python3
	$(WB) series

series-check: python3
	$(WB) series-check

series-bisect: python3
	$(WB) series-check --bisect

build: python3
	$(WB) build --config $(CONFIG) $(A)

vm: python3
	$(WB) vm --config $(CONFIG) --timeout $(TIMEOUT) $(A) \
		$(if $(CLOCK),--clock $(CLOCK)) $(if $(FILES),--files $(FILES)) '$(CMD)'

shell: python3
	$(WB) shell --config $(CONFIG) $(if $(CLOCK),--clock $(CLOCK)) $(A)

# CONFIG=debug (default) or kasan; SEED, PAGES, CALLS, ROUNDS: wb/stress.py
stress: python3
	$(WB) stress $(if $(filter-out guest,$(CONFIG)),--config $(CONFIG)) $(A) \
		$(if $(SEED),--seed $(SEED)) $(if $(PAGES),--pages $(PAGES)) \
		$(if $(CALLS),--calls $(CALLS)) $(if $(ROUNDS),--rounds $(ROUNDS))

check-host: python3
	$(WB) host

wb-selftests: python3
	python3 -m unittest discover -s wb/tests -t .

deps: python3
	$(WB) deps

python3:
	@command -v python3 >/dev/null || \
		{ apt-get update -q; apt-get install -y -q python3; }
