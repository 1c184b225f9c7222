# Compiler and flags of the project's static programs (they run in a
# busybox-only guest). Included by workload/Makefile and bench/Makefile.
OUT     ?= ../build/bin
ifeq ($(origin CC),default)
CC      = gcc
endif
CFLAGS  ?= -O2
CFLAGS  += -Wall -Wextra -pthread
LDFLAGS += -static -pthread
