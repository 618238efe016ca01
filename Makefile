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
#   make dkms-install         (root) copy the sources to /usr/src/altdma-<ver>,
#                             dkms add, build and install for the running
#                             kernel (and every later kernel: AUTOINSTALL)
#   make dkms-remove          (root) dkms remove --all, delete the copy

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

# The version is dkms.conf's PACKAGE_VERSION; DKMS gets only what builds
# the module (no KUnit suites, no scripts).
DKMS_VERSION := $(shell sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' $(CURDIR)/dkms.conf)
DKMS_SRC := /usr/src/altdma-$(DKMS_VERSION)
DKMS_FILES := Kbuild Makefile dkms.conf $(wildcard $(CURDIR)/*.c $(CURDIR)/*.h)

.PHONY: all modules clean test kunit bench dkms-install dkms-remove

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

dkms-install:
	rm -rf $(DKMS_SRC)
	mkdir -p $(DKMS_SRC)
	cp $(DKMS_FILES) $(DKMS_SRC)/
	dkms add -m altdma -v $(DKMS_VERSION)
	dkms build -m altdma -v $(DKMS_VERSION)
	dkms install -m altdma -v $(DKMS_VERSION)

dkms-remove:
	-dkms remove -m altdma -v $(DKMS_VERSION) --all
	rm -rf $(DKMS_SRC)
