# nutragenie: a MongoDB foreign data wrapper and the NutraGenie domain for
# PostgreSQL.  PGXS build; "make test" and "make demo" do everything else.

# Two extensions: nutragenie_fdw (the MongoDB FDW, this library) and
# nutragenie (the NutraGenie application, SQL only, requires nutragenie_fdw).
EXTENSION    = nutragenie_fdw nutragenie
MODULE_big   = nutragenie_fdw
OBJS         = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c src/*/*.c)))
PGFILEDESC   = "nutragenie_fdw - MongoDB foreign data wrapper"

# The current version's install scripts are built from the sources by
# concern in sql/fdw/ and sql/app/ (in this order); every other script in
# sql/ is a shipped one, frozen.
NG_FDW_VERSION := $(shell sed -n "s/^default_version *= *'\(.*\)'/\1/p" nutragenie_fdw.control)
NG_APP_VERSION := $(shell sed -n "s/^default_version *= *'\(.*\)'/\1/p" nutragenie.control)
NG_FDW_PARTS  = $(addprefix sql/fdw/,objectid.sql wrapper.sql queue.sql admin.sql)
NG_APP_PARTS  = $(addprefix sql/app/,tables.sql attach.sql sync.sql services.sql events.sql recipes.sql users.sql \
                                       cooking.sql payments.sql chat.sql recommend.sql roles.sql operations.sql pin.sql)
NG_FDW_SCRIPT = sql/nutragenie_fdw--$(NG_FDW_VERSION).sql
NG_APP_SCRIPT = sql/nutragenie--$(NG_APP_VERSION).sql
DATA_built   = $(NG_FDW_SCRIPT) $(NG_APP_SCRIPT)
DATA         = $(filter-out $(DATA_built),$(wildcard sql/nutragenie*--*.sql)) $(wildcard nutragenie--*.control)

MONGOC_PC   := $(shell pkg-config --exists mongoc2 2>/dev/null && echo mongoc2 || echo libmongoc-1.0)
# the module version PostgreSQL 18+ reports (PG_MODULE_MAGIC_EXT)
NG_VERSION  := $(NG_FDW_VERSION)
# -isystem: the driver headers must not trip the server's warning flags
PG_CPPFLAGS  = -I$(srcdir)/src -I$(srcdir)/src/conn $(patsubst -I%,-isystem %,$(shell pkg-config --cflags $(MONGOC_PC))) -DNG_MODULE_VERSION='"$(NG_VERSION)"'
SHLIB_LINK   = $(shell pkg-config --libs $(MONGOC_PC))

# Tests that need no MongoDB server, then those that do; "upgrade" last
# because it recreates the extension.
REGRESS_OFFLINE = extension fdw_validator fdw_objectid fdw_deparse fdw_deparse_depth security_grants
# Every test/sql/*.sql runs: the offline ones, then the rest by name, "upgrade" last.
REGRESS_ALL    := $(sort $(basename $(notdir $(wildcard test/sql/*.sql))))
REGRESS_MONGO   = $(filter-out $(REGRESS_OFFLINE) upgrade,$(REGRESS_ALL)) upgrade
REGRESS      = $(REGRESS_OFFLINE) $(REGRESS_MONGO)
REGRESS_OPTS = --inputdir=test --load-extension=nutragenie_fdw --load-extension=pgcrypto --load-extension=nutragenie

PG_CONFIG   ?= pg_config
PGXS        := $(shell $(PG_CONFIG) --pgxs 2>/dev/null)
ifeq ($(PGXS),)
# Fresh machine without the server headers: "make test" / "make demo"
# install them first (test/setup), then re-enter make.
.DEFAULT_GOAL := all
all install installcheck:
	@echo "PostgreSQL server development files are missing; run \"make test\" or \"make demo\", which install them." >&2
	@exit 1
else
include $(PGXS)
endif

# build-script EXTENSION PARTS...: the \echo guard, then each part
define build-script
	{ printf '/* %s: built by the Makefile from %s; edit those */\n\n' '$(notdir $@)' '$(dir $(firstword $^))'; \
	  printf -- '-- complain if script is sourced in psql, rather than via CREATE EXTENSION\n'; \
	  printf '\\echo Use "CREATE EXTENSION %s" to load this file. \\quit\n' '$(1)'; \
	  for f in $^; do printf '\n'; cat "$$f"; done; } > $@
endef
$(NG_FDW_SCRIPT): $(NG_FDW_PARTS)
	$(call build-script,nutragenie_fdw)
$(NG_APP_SCRIPT): $(NG_APP_PARTS)
	$(call build-script,nutragenie)

# every object depends on the private headers (PGXS tracks no headers)
$(OBJS): $(wildcard src/*.h src/*/*.h)

# "make test" runs every leg (PostgreSQL 15 here, 17 and 18 in Debian
# chroots: see test/run); "make test-pg15" (or NG_LEGS=...) runs one.
.PHONY: test test-pg15 test-pg17 test-pg18 demo
test:
	@bash test/run
test-pg15 test-pg17 test-pg18:
	@NG_LEGS=$(@:test-%=%) bash test/run
demo:
	@bash test/demo

.PHONY: bench
bench: ; @bash bench/run
