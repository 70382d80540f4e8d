#!/usr/bin/env bash
#
# tests/man.sh - the manual page, as its readers and its installer see it.
#
# The converter first: tests/man.awk turns each construct of a small README,
# written here, into the roff it should (titles, sections, paragraphs,
# literal blocks, lists, tables, code, escapes, UTF-8). Then the real README:
# its page is clean to mandoc -Tlint, man renders it without a word on
# stderr, with every section of the README and every option that chat
# --help lists. Last, make install puts chat, chat.1 and the README under
# DESTDIR, where man finds the page as chat(1), and make uninstall takes
# every file away again.
#
# Usage: bash tests/man.sh [test_name ...]
# Needs mandoc and man (man-db, or mandoc's own); without them the tests
# that use them say SKIPPED (and CI, where nothing may be skipped, fails).
# MAKE=bmake installs with BSD make (make test passes its own make);
# AWK=... converts with another awk. CHAT=path: whose --help to read.
# Prints PASS, FAIL or SKIPPED for each test, then "N passed, N failed";
# exits 1 if a test failed. MAN_KEEP=1 keeps the work directory.

set -u
export LC_ALL=C		# man writes ASCII, awk reads bytes; "." in EPOCHREALTIME

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SUITE="man"
. "$ROOT/tests/lib.sh"
CHAT=${CHAT:-$ROOT/chat}	# CHAT=path tests another build's --help
MAKE=${MAKE:-make}	# make test passes $(MAKE): bmake test installs with bmake
AWK=${AWK:-awk}
TITLE='chat - strict turn-taking two-party chat over TCP'

# === Helpers =================================================================

# needs TOOL PACKAGE: end the current test as skipped where TOOL is missing.
needs() {
	command -v "$1" > /dev/null 2>&1 && return
	printf '%s is not installed (apt-get install %s)\n' "$1" "$2" \
	    > "$T/skipped"
	exit 0
}

# readme: write README: the title, then the text on stdin.
readme() {
	{
		printf '%s\n' "$TITLE" "${TITLE//?/=}" ''
		cat
	} > README
}

# convert [AWK...]: README -> chat.1 with tests/man.awk, as the Makefile
# runs it; it must succeed and say nothing.
convert() {
	local awk=("${@:-$AWK}")

	"${awk[@]}" -v version=9.8.7 -v date=2001-02-03 \
	    -f "$ROOT/tests/man.awk" README > chat.1 2> awk.err ||
	    fail "${awk[*]} -f tests/man.awk failed: $(show awk.err)"
	[[ -s awk.err ]] && fail "tests/man.awk said $(show awk.err)"
	return 0
}

# expect_roff: chat.1 holds the lines on stdin, in a row.
expect_roff() {
	local -a want have
	local i j

	mapfile -t want
	mapfile -t have < chat.1
	for (( i = 0; i + ${#want[@]} <= ${#have[@]}; i++ )); do
		for (( j = 0; j < ${#want[@]}; j++ )); do
			[[ ${have[i + j]} == "${want[j]}" ]] || continue 2
		done
		return 0
	done
	printf '%s\n' "${want[@]}" > want
	fail "chat.1 lacks the lines $(show want) in a row; it is $(show chat.1)"
}

# man_page FILE: the page FILE as man -l shows it at 80 columns, into
# man.out (overstrikes removed); man must say nothing on stderr.
man_page() {
	MANWIDTH=80 MANPAGER=cat PAGER=cat man -l "$1" > man.raw 2> man.err ||
	    fail "man -l $1 failed: $(show man.err)"
	[[ -s man.err ]] && fail "man -l $1 warned: $(show man.err)"
	perl -pe 's/.\x08//g' man.raw > man.out
	[[ -s man.out ]] || fail "man -l $1 printed nothing"
}

# readme_page: chat.1 from the real README, versioned as chat says.
readme_page() {
	local version

	version=$("$CHAT" --version | head -n 1) ||
	    fail "$CHAT --version failed"
	version=${version#chat }
	"$AWK" -v version="$version" -v date=2001-02-03 \
	    -f "$ROOT/tests/man.awk" "$ROOT/README" > chat.1 2> awk.err ||
	    fail "tests/man.awk README failed: $(show awk.err)"
	[[ -s awk.err ]] && fail "tests/man.awk said of the README $(show awk.err)"
	return 0
}

# install_into DIR: make install DESTDIR=DIR, in the source tree.
install_into() {
	"$MAKE" -C "$ROOT" install DESTDIR="$1" > install.out 2>&1 ||
	    fail "$MAKE install failed: $(tail -n 3 install.out)"
}

# === The converter, construct by construct ===================================

test_title_is_the_name_and_the_text_before_sections_the_description() {
	readme <<'EOF'
chat connects two people.
EOF
	convert
	expect_roff <<'EOF'
.TH CHAT 1 2001-02-03 "chat 9.8.7"
.SH NAME
chat \- strict turn-taking two-party chat over TCP
EOF
	expect_roff <<'EOF'
.SH DESCRIPTION
chat connects two people.
EOF
}

test_sections_are_sh_in_upper_case_and_subsections_ss() {
	readme <<'EOF'
Set-up
------

Text one.

### Two terminals

Text two.
EOF
	convert
	expect_roff <<'EOF'
.SH SET-UP
Text one.
.SS Two terminals
Text two.
EOF
}

test_paragraphs_are_separated_by_pp() {
	readme <<'EOF'
Section
-------

First paragraph,
on two lines.

Second.
EOF
	convert
	expect_roff <<'EOF'
.SH SECTION
First paragraph,
on two lines.
.PP
Second.
EOF
}

test_usage_begins_with_the_synopsis_and_literal_blocks_keep_their_lines() {
	readme <<'EOF'
Usage
-----

    chat --listen PORT
    chat --help

    -l, --listen PORT  wait
                       for peers

Text.

    .hidden 'quote' C:\dir
    'quoted
      indented -x and 0-9

    after a blank line
EOF
	convert
	expect_roff <<'EOF'
.SH NAME
chat \- strict turn-taking two-party chat over TCP
.SH SYNOPSIS
.nf
chat \-\-listen PORT
chat \-\-help
.fi
EOF
	expect_roff <<'EOF'
.SH USAGE
.RS 4
.EX
\-l, \-\-listen PORT  wait
                   for peers
.EE
.RE
.PP
Text.
.PP
.RS 4
.EX
\&.hidden 'quote' C:\edir
\&'quoted
  indented \-x and 0\-9

after a blank line
.EE
.RE
EOF
}

test_literal_block_too_wide_to_indent_is_not_indented() {
	local wide

	printf -v wide '%70s' 'x'	# 7 + 4 + 70 is over 80 columns
	readme <<EOF
Text.

    $wide
EOF
	convert
	expect_roff <<EOF
.PP
.EX
$wide
.EE
EOF
}

test_bullet_list_has_continuations_nesting_and_blocks() {
	readme <<'EOF'
Intro:
- one, which goes
  on here
  - nested a
  - nested b,
    continued
- two

  a second paragraph of two

      literal in two

- three

After.
EOF
	convert
	expect_roff <<'EOF'
Intro:
.IP \(bu 2
one, which goes
on here
.RS 2
.IP \(bu 2
nested a
.IP \(bu 2
nested b,
continued
.RE
.IP \(bu 2
two
.RS 2
.PP
a second paragraph of two
.PP
.RS 4
.EX
literal in two
.EE
.RE
.RE
.IP \(bu 2
three
.PP
After.
EOF
}

test_numbered_list_has_continuations_and_blocks() {
	readme <<'EOF'
1. First rule,
   continued.
2. Second:

       ERR bad hello   first frame

   and more.
10. Tenth,
    continued.
EOF
	convert
	expect_roff <<'EOF'
.IP 1. 4
First rule,
continued.
.IP 2. 4
Second:
.RS 4
.PP
.RS 4
.EX
ERR bad hello   first frame
.EE
.RE
.PP
and more.
.RE
.IP 10. 4
Tenth,
continued.
EOF
}

test_table_is_a_tagged_list() {
	readme <<'EOF'
Keys:

| Key      | Does         |
|----------|--------------|
| `Ctrl-G` | drop them    |
| Ctrl-\   | stop chat    |

After.
EOF
	convert
	expect_roff <<'EOF'
Keys:
.TP 8
\fBKey\fR
\fBDoes\fR
.PD 0
.TP 8
\%\fBCtrl\-G\fR
drop them
.TP 8
Ctrl-\e
stop chat
.PD
.PP
After.
EOF
}

test_backslash_and_leading_dot_or_quote_are_escaped() {
	readme <<'EOF'
Text with a \ backslash and \x1b,
.dotted line start
'quoted line start
EOF
	convert
	expect_roff <<'EOF'
Text with a \e backslash and \ex1b,
\&.dotted line start
\&'quoted line start
EOF
}

test_code_is_bold_short_code_unbroken_and_long_code_across_lines() {
	readme <<'EOF'
Say `QUIT` or `Your message: `.
A span `across
two lines` ends.
EOF
	convert
	expect_roff <<'EOF'
Say \%\fBQUIT\fR or \%\fBYour\ message:\ \fR.
A span \%\fBacross\fR
\%\fBtwo \%lines\fR ends.
EOF
}

test_option_hyphens_are_minus_signs_and_word_hyphens_stay() {
	readme <<'EOF'
Use --listen=5000, -l or (--block);
turn-taking, Ctrl-C and 0-65535 stay.
EOF
	convert
	expect_roff <<'EOF'
Use \%\-\-listen=5000, \%\-l or \%(\-\-block);
turn-taking, Ctrl-C and 0-65535 stay.
EOF
}

test_utf8_becomes_unicode_escapes_and_invalid_bytes_u_fffd() {
	printf 'Zo\303\253 pays 5 \342\202\254 for \360\237\215\225;\n' | readme
	printf 'a lone \200, overlong \300\257 and \340\200\257.\n' >> README
	convert
	expect_roff <<'EOF'
Zo\[u00EB] pays 5 \[u20AC] for \[u1F355];
a lone \[uFFFD], overlong \[uFFFD]\[uFFFD] and \[uFFFD]\[uFFFD]\[uFFFD].
EOF
}

test_long_text_lines_are_cut_at_80_bytes_but_not_after_a_full_stop() {
	local a9='aaaaaaaaa'

	# Bytes 77 and 78 are ". ", the last space before byte 81 (a line
	# of 80 bytes and its space): the cut goes back to byte 70.
	readme <<< "$a9 $a9 $a9 $a9 $a9 $a9 $a9 bbbbbb. ccccccc dd"
	convert
	expect_roff <<EOF
$a9 $a9 $a9 $a9 $a9 $a9 $a9
bbbbbb. ccccccc dd
EOF
}

test_converter_without_version_and_date_writes_no_page() {
	readme <<< 'Text.'
	if "$AWK" -f "$ROOT/tests/man.awk" README > chat.1 2> awk.err; then
		fail "tests/man.awk without version and date succeeded"
	fi
	grep -q '^usage: ' awk.err || fail "no usage message: $(show awk.err)"
	[[ -s chat.1 ]] && fail "a page was written: $(show chat.1)"
	return 0
}

test_every_construct_together_is_clean_to_mandoc_and_man() {
	needs mandoc mandoc
	needs man man-db
	readme <<'EOF'
Intro with `code`, --options, \xNN, a \ and Zo\303\253.

Usage
-----

    chat --listen PORT

    -l, --listen PORT  wait

Text.

### Sub

- one
  - nested
- two

      literal

  more of two

1. First:

       block

   and more.

| Key  | Does |
|------|------|
| Up   | back |
EOF
	# (the here-document leaves \303\253 as it is: make it the bytes)
	perl -pi -e 's/\\303\\253/\xc3\xab/' README
	convert
	mandoc -Tlint -W style chat.1 > lint.out 2>&1 ||
	    fail "mandoc -Tlint: $(show lint.out)"
	[[ -s lint.out ]] && fail "mandoc -Tlint: $(show lint.out)"
	man_page chat.1
	mandoc -Tutf8 chat.1 > utf8.out 2>&1 || fail "mandoc -Tutf8 failed"
	grep -q "Zo$(printf '\303\253')" utf8.out ||
	    fail "mandoc -Tutf8 lost the UTF-8 of Zo\\303\\253: $(show utf8.out)"
}

test_converter_writes_the_same_page_with_every_awk_here() {
	local -a awks
	local a ran=()

	awks=(awk mawk 'gawk --posix' nawk original-awk 'busybox awk')
	cp "$ROOT/README" README
	convert
	mv chat.1 first.1
	for a in "${awks[@]}"; do
		command -v "${a%% *}" > /dev/null 2>&1 || continue
		# shellcheck disable=SC2086	# (words on purpose: gawk --posix)
		convert $a
		cmp -s first.1 chat.1 ||
		    fail "$a -f tests/man.awk wrote another page than $AWK:" \
		    "$(diff first.1 chat.1 | head -n 5)"
		ran+=("$a")
	done
	note "converted alike by: ${ran[*]}"
}

# === The README's page =======================================================

test_readme_page_is_clean_to_mandoc_lint() {
	needs mandoc mandoc
	readme_page
	mandoc -Tlint -W style chat.1 > lint.out 2>&1 ||
	    fail "mandoc -Tlint: $(show lint.out)"
	[[ -s lint.out ]] && fail "mandoc -Tlint: $(show lint.out)"
	return 0
}

test_readme_page_shows_name_synopsis_and_every_section() {
	local title

	needs man man-db
	readme_page
	man_page chat.1
	expect_line man.out 'NAME'
	expect_line man.out "       $TITLE"
	expect_line man.out 'SYNOPSIS'
	expect_line_re man.out '       chat --listen .*'
	while IFS= read -r title; do
		expect_line man.out "$(tr '[:lower:]' '[:upper:]' <<< "$title")"
	done < <(awk 'NR > 2 && /^-+$/ { print prev } { prev = $0 }' \
	    "$ROOT/README")
	while IFS= read -r title; do
		expect_line man.out "   ${title#'### '}"
	done < <(grep '^### ' "$ROOT/README")
}

test_readme_page_has_every_option_of_chat_help() {
	local -a options
	local option

	needs man man-db
	"$CHAT" --help > help.out 2>&1 || fail "$CHAT --help failed"
	mapfile -t options < <(grep -oE -- '--[a-z][-a-z]*' help.out | sort -u)
	(( ${#options[@]} )) || fail "chat --help lists no option: $(show help.out)"
	readme_page
	man_page chat.1
	for option in "${options[@]}"; do
		grep -qE -- "(^|[^-a-z])$option([^-a-z]|\$)" man.out ||
		    fail "the page lacks $option, which chat --help lists"
	done
	note "${#options[@]} options of --help, each on the page"
}

# === make install and make uninstall =========================================

test_install_puts_chat_its_page_and_the_readme_under_destdir() {
	local usr=$T/stage/usr/local

	install_into "$T/stage"
	[[ -x $usr/bin/chat && -f $usr/bin/chat ]] ||
	    fail "no executable usr/local/bin/chat: $(find "$T/stage" -type f)"
	[[ -f $usr/share/man/man1/chat.1 ]] ||
	    fail "no usr/local/share/man/man1/chat.1: $(find "$T/stage" -type f)"
	[[ -f $usr/share/doc/chat/README ]] ||
	    fail "no usr/local/share/doc/chat/README: $(find "$T/stage" -type f)"
	[[ $(find "$usr/share/man/man1/chat.1" "$usr/share/doc/chat/README" \
	    -perm 644 | wc -l) -eq 2 ]] ||
	    fail "the page or the README is not mode 644: $(ls -l \
	    "$usr/share/man/man1/chat.1" "$usr/share/doc/chat/README")"
	cmp -s "$ROOT/README" "$usr/share/doc/chat/README" ||
	    fail "the installed README is not the README"
	cmp -s "$ROOT/chat.1" "$usr/share/man/man1/chat.1" ||
	    fail "the installed page is not the chat.1 that make built"
	head -n 2 "$usr/share/man/man1/chat.1" | grep -q '^\.TH CHAT 1 ' ||
	    fail "the installed page has no .TH CHAT 1:" \
	    "$(show "$usr/share/man/man1/chat.1")"
}

test_installed_page_is_what_man_chat_shows() {
	local mandir=$T/stage/usr/local/share/man

	needs man man-db
	install_into "$T/stage"
	MANPATH=$mandir man -w chat > where.out 2>&1 ||
	    fail "man -w chat finds nothing: $(show where.out)"
	expect_line where.out "$mandir/man1/chat.1"
	MANPATH=$mandir MANWIDTH=80 MANPAGER=cat PAGER=cat man chat \
	    > man.raw 2> man.err || fail "man chat failed: $(show man.err)"
	perl -pe 's/.\x08//g' man.raw > man.out
	grep -q 'strict turn-taking' man.out ||
	    fail "man chat shows another page: $(show man.out)"
}

test_uninstall_leaves_no_file_behind() {
	local left

	install_into "$T/stage"
	"$MAKE" -C "$ROOT" uninstall DESTDIR="$T/stage" > uninstall.out 2>&1 ||
	    fail "$MAKE uninstall failed: $(tail -n 3 uninstall.out)"
	left=$(find "$T/stage" -type f)
	[[ $left ]] && fail "make uninstall left $left"
	[[ -e $T/stage/usr/local/share/doc/chat ]] &&
	    fail "make uninstall left the directory share/doc/chat"
	return 0
}

suite_main "$@"
