# SPDX-License-Identifier: GPL-2.0-only
#
# Out-of-tree build of altdma.ko. The kernel build system reads ./Kbuild.
#
#   make                      build against the running kernel
#   make KDIR=<dir>           build against another tree or headers package
#   make KUNIT=1 KDIR=<dir>   also link the KUnit suites (needs CONFIG_KUNIT=y)
#   make BENCH=1 KDIR=<dir>   also link the benchmarks (bench/)
#   make test                 the project's whole test command (scripts/test.sh)
#   make bench                the side-by-side benchmarks (scripts/bench.sh)

KDIR ?= /lib/modules/$(shell uname -r)/build
KUNIT ?= 0
BENCH ?= 0

KBUILD_ARGS := M=$(CURDIR) CONFIG_ALTDMA=m
ifeq ($(KUNIT),1)
KBUILD_ARGS += CONFIG_ALTDMA_KUNIT_TEST=y
endif
ifeq ($(BENCH),1)
KBUILD_ARGS += CONFIG_ALTDMA_BENCH=y
endif

.PHONY: all modules clean test kunit bench

all: modules

modules:
	$(MAKE) -C $(KDIR) $(KBUILD_ARGS) modules

clean:
	$(MAKE) -C $(KDIR) $(KBUILD_ARGS) clean

test:
	./scripts/test.sh

kunit:
	./scripts/kunit.sh

bench:
	./scripts/bench.sh
