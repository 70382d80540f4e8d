# chat - strict turn-taking two-party chat over TCP
#
# Targets:
#   make            build ./chat
#   make demo       build, then play a scripted conversation on loopback
#   make test       unit tests, black-box tests, expect tests, soak
#   make bench      time chat against a bare C floor (reports, never fails
#                   on time; fails if a transcript is wrong)
#   make install    install chat into $(DESTDIR)$(PREFIX)/bin
#                   (PREFIX=/usr/local; DESTDIR= for staging)
#   make uninstall  remove it again
#   make clean      remove what the build made
#   make help       this list

PREFIX ?= /usr/local
BINDIR = $(PREFIX)/bin
CFLAGS ?= -O2 -g
# Ours come first so that the user's CFLAGS can override them.
CHAT_CFLAGS = -std=c11 -Wall -Wextra -pedantic $(CFLAGS)

all: chat

chat: chat.c chat.h
	$(CC) $(CPPFLAGS) $(CHAT_CFLAGS) -o $@ chat.c $(LDFLAGS)

# The unit tests link chat.c itself, its main renamed out of the way.
tests/chat-lib.o: chat.c chat.h
	$(CC) $(CPPFLAGS) $(CHAT_CFLAGS) -Dmain=chat_main -c -o $@ chat.c

tests/unit: tests/unit.c tests/chat-lib.o chat.h
	$(CC) $(CPPFLAGS) $(CHAT_CFLAGS) -I. -o $@ tests/unit.c \
	    tests/chat-lib.o $(LDFLAGS)

demo: chat
	@sh tests/demo.sh

test: chat tests/unit
	./tests/unit
	bash tests/blackbox.sh
	@sh tests/expect.sh tests/interactive.exp
	bash tests/soak.sh

tests/bench/floor: tests/bench/floor.c
	$(CC) $(CPPFLAGS) $(CHAT_CFLAGS) -o $@ tests/bench/floor.c $(LDFLAGS)

bench: chat tests/bench/floor
	bash tests/bench/bench.sh

install: chat
	mkdir -p $(DESTDIR)$(BINDIR)
	cp chat $(DESTDIR)$(BINDIR)/chat
	chmod 755 $(DESTDIR)$(BINDIR)/chat

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/chat

clean:
	rm -f chat tests/unit tests/chat-lib.o tests/bench/floor
	rm -rf tests/out

help:
	@sed -n '3,13s/^# //p' Makefile

.PHONY: all bench demo test install uninstall clean help
