# tests/man.awk - the manual page chat.1, made from the README at build
# time, so that the README stays the one source of the manual:
#
#   LC_ALL=C awk -v version=X.Y.Z -v date=YYYY-MM-DD -f tests/man.awk README
#
# It knows the few conventions the README keeps, and writes man(7) that
# mandoc -Tlint and groff pass without a warning:
#
#   Title - what it is        the first line, over a line of "=": .TH and
#   ==================        NAME; text before the first section goes
#                             under DESCRIPTION
#   Section                   a line over a line of "-": .SH, upper case
#   -------
#   ### Subsection            .SS
#   (a blank line)            between paragraphs: .PP
#       literal               4 spaces more than the text it is in, after
#                             a blank line: .EX/.EE, indented; the first
#                             one in Usage is the SYNOPSIS instead
#   - item, 1. item           .IP; an item goes on indented to its first
#                             word: more lines, paragraphs, literal blocks
#                             and nested lists
#   | cell | cell |           a table (its second row |---|): a tagged
#                             list (.TP), the first column the tag
#   `code`                    bold, also across a line break
#
# Escaped: a backslash is \e; a line that starts with "." or "'" gets \&;
# a hyphen is \-, a minus that copies and pastes as itself, in literal
# blocks, in code, and in words that start with one (--options, -N), but
# stays a hyphen in words such as turn-taking; UTF-8 is decoded byte by
# byte into \[uXXXX], so that no formatter has to guess the encoding.
#
# POSIX awk only (mawk, gawk, BSD awk). In a UTF-8 locale some awks read
# characters, not bytes: hence LC_ALL=C, which it checks.

BEGIN {
	if (version == "" || date == "")
		die("usage: LC_ALL=C awk -v version=X.Y.Z -v date=YYYY-MM-DD" \
		    " -f tests/man.awk README")
	# An awk that reads characters counts these two bytes, an e with an
	# acute accent in UTF-8, as one.
	if (length("\303\251") != 2)
		die("tests/man.awk: run it with LC_ALL=C: this awk reads" \
		    " characters, and the README's UTF-8 is decoded by byte")
	for (byte = 0; byte < 256; byte++)
		ord[sprintf("%c", byte)] = byte
}

# Trailing blanks would be trailing blanks in roff, which lint reports.
{
	sub(/[ \t]+$/, "")
	line[++n] = $0
}

END {
	if (failed)
		exit 1
	if (line[2] !~ /^=+$/ || index(line[1], " - ") == 0)
		die(FILENAME ": no title (\"name - what it is\" over a line" \
		    " of \"=\")")
	convert()
	name = substr(line[1], 1, index(line[1], " - ") - 1)
	print ".\\\" Made from the README by tests/man.awk: edit the README."
	print ".TH " toupper(name) " 1 " date " \"" name " " version "\""
	print ".SH NAME"
	print roff(name, "text") " \\- " \
	    roff(substr(line[1], length(name) + 4), "text")
	if (nsyn) {
		print ".SH SYNOPSIS"
		print ".nf"
		for (nth = 1; nth <= nsyn; nth++)
			print syn[nth]
		print ".fi"
	}
	for (nth = 1; nth <= nout; nth++)
		print out[nth]
}

# die MESSAGE: report on stderr and fail (END, which runs after an exit in
# BEGIN, then writes nothing).
function die(message) {
	print message > "/dev/stderr"
	failed = 1
	exit 1
}

# === The blocks ==============================================================
# Lists nest by indentation: level d (1..depth) has its marker at column
# marker[d], its text at column text_col[d], and is written as .IP with an
# indent of width[d]. What an item holds after its first paragraph is
# written inside an .RS of that width (held[d]), so that the formatter
# puts it under the item's text, as the README does.

function convert(    i, s, ind, lit, j, last) {
	blank = 1	# the line before was blank: a new block begins
	for (i = 3; i <= n; i++) {
		s = line[i]
		at = i
		if (s == "") {
			blank = 1
			continue
		}
		ind = match(s, /[^ ]/) - 1
		lit = (depth ? text_col[depth] : 0) + 4
		if (ind == 0 && i < n && line[i + 1] ~ /^-+$/) {
			section = s
			heading(".SH", toupper(s))
			i++
		} else if (s ~ /^### /) {
			heading(".SS", substr(s, 5))
		} else if (s ~ /^\|/ && line[i + 1] ~ /^\|[-:| ]+\|$/) {
			for (j = i + 2; j <= n && line[j] ~ /^\|/; j++)
				;
			table(i, j - 1)
			i = j - 1
			blank = 1
		} else if (blank && ind >= lit) {
			# The blank lines inside the block are its own, those
			# after it not.
			last = i
			for (j = i + 1; j <= n; j++) {
				if (line[j] == "")
					continue
				if (match(line[j], /[^ ]/) - 1 < lit)
					break
				last = j
			}
			literal(i, last, lit)
			i = last
			blank = 1
		} else if (match(s, /^ *(-|[0-9]+\.) +/)) {
			item(s, ind, RLENGTH)
			blank = 0
		} else {
			if (blank) {
				leave_lists(ind)
				hold()
				paragraph()
			}
			fold(roff(substr(s, ind + 1), "text"))
			blank = 0
		}
	}
	leave_lists(0)
	end_code()
}

# heading MACRO TITLE: a section or subsection; lists end there.
function heading(macro, title) {
	leave_lists(0)
	end_code()
	describe()
	req(macro " " roff(title, "arg"))
	fresh = 1
	blank = 1
}

# describe: text before the first section is the DESCRIPTION.
function describe() {
	if (nout == 0 && section == "") {
		req(".SH DESCRIPTION")
		fresh = 1
	}
}

# paragraph: a new paragraph, but none right under a heading (lint
# reports a paragraph macro there).
function paragraph() {
	end_code()
	describe()
	if (!fresh)
		req(".PP")
	fresh = 0
}

# item LINE INDENT TEXT_COL: a list item: of a new list, a nested one, or
# the next of its list. Its text starts at column TEXT_COL.
function item(s, ind, col,    mark) {
	end_code()
	describe()
	fresh = 0
	mark = substr(s, ind + 1, col - ind)
	sub(/ +$/, "", mark)
	while (depth && marker[depth] > ind) {
		release()
		depth--
	}
	if (depth && marker[depth] == ind) {
		release()
	} else {
		hold()
		depth++
		marker[depth] = ind
		held[depth] = 0
	}
	text_col[depth] = col
	width[depth] = mark == "-" ? 2 : 4
	req(".IP " (mark == "-" ? "\\(bu" : mark) " " width[depth])
	fold(roff(substr(s, col + 1), "text"))
}

# leave_lists INDENT: end the lists whose text is right of column INDENT.
function leave_lists(ind) {
	while (depth && text_col[depth] > ind) {
		release()
		depth--
	}
}

# hold: what comes next belongs to the current item, under its text.
function hold() {
	if (depth && !held[depth]) {
		req(".RS " width[depth])
		held[depth] = 1
	}
}

# release: the current item's .RS, if it has one, ends.
function release() {
	if (held[depth]) {
		req(".RE")
		held[depth] = 0
	}
}

# literal FIRST LAST INDENT: lines FIRST to LAST as they are, less INDENT
# spaces; indented 4 if its widest line still fits in 80 columns then (man
# puts the text 7 in; a list's items more), else not. The Usage section's
# first lines of them, up to a blank line, are the synopsis (the option
# list after it stays).
function literal(first, last, ind,    k, room, widest) {
	if (section == "Usage" && !nsyn) {
		for (; first <= last && line[first] != ""; first++)
			syn[++nsyn] = escape_lead(roff(substr(line[first],
			    ind + 1), "literal"))
		while (first <= last && line[first] == "")
			first++
		if (first > last)
			return
	}
	hold()
	paragraph()
	room = 80 - 7
	for (k = 1; k <= depth; k++)
		room -= width[k]
	widest = 0
	for (k = first; k <= last; k++)
		if (length(line[k]) - ind > widest)
			widest = length(line[k]) - ind
	if (widest + 4 <= room)
		req(".RS 4")
	req(".EX")
	for (k = first; k <= last; k++)
		put(roff(substr(line[k], ind + 1), "literal"))
	req(".EE")
	if (widest + 4 <= room)
		req(".RE")
}

# table FIRST LAST: a table (line FIRST its header, FIRST+1 the rule under
# it) as a tagged list: the header in bold, the rows after it without
# space between them, the tags as wide as the widest first cell.
function table(first, last,    k, cells, nc, c, w, t, rest) {
	leave_lists(0)
	end_code()
	describe()
	fresh = 0
	w = 0
	for (k = first; k <= last; k++) {
		row(line[k], cells)
		t = cells[1]
		gsub(/`/, "", t)
		if (k != first + 1 && length(t) > w)
			w = length(t)
	}
	for (k = first; k <= last; k++) {
		if (k == first + 1)
			continue
		at = k
		nc = row(line[k], cells)
		rest = cells[2]
		for (c = 3; c <= nc; c++)
			rest = rest " " cells[c]
		req(".TP " (w + 2))
		if (k == first) {
			put("\\fB" roff(cells[1], "text") "\\fR")
			put("\\fB" roff(rest, "text") "\\fR")
			req(".PD 0")
		} else {
			put(cell(cells[1]))
			fold(cell(rest))
		}
		end_code()
	}
	req(".PD")
}

# row LINE CELLS: split a table row into CELLS[1..], trimmed; their count.
function row(s, cells,    nc, k) {
	sub(/^\|/, "", s)
	sub(/\|$/, "", s)
	nc = split(s, cells, "|")
	for (k = 1; k <= nc; k++) {
		sub(/^ +/, "", cells[k])
		sub(/ +$/, "", cells[k])
	}
	return nc
}

# cell TEXT: a table cell as a line of text, an empty one too.
function cell(s) {
	s = roff(s, "text")
	return s == "" ? "\\&" : s
}

# === Lines of roff ===========================================================

# req REQUEST: a line of output that is a request (a macro).
function req(s) {
	out[++nout] = s
}

# put TEXT: a line of output that is text.
function put(s) {
	out[++nout] = escape_lead(s)
}

# fold TEXT: a line of text, cut into lines of at most 80 bytes where it
# has a space to cut at (lint asks for that). Not after a full stop:
# roff puts a sentence's space at the end of a line.
function fold(s,    k, cut) {
	while (length(s) > 80) {
		cut = 0
		for (k = 2; k < length(s) && !(cut && k > 81); k++)
			if (substr(s, k, 1) == " " &&
			    substr(s, k - 1, 1) ~ /[A-Za-z0-9,;]/ &&
			    substr(s, k + 1, 1) != " ")
				cut = k
		if (!cut)
			break
		put(substr(s, 1, cut - 1))
		s = substr(s, cut + 1)
	}
	put(s)
}

# escape_lead TEXT: TEXT, with \& before a "." or "'" that would make it a
# request.
function escape_lead(s) {
	return s ~ /^[.']/ ? "\\&" s : s
}

# end_code: a block ends, and a `code` left open in it with it (roff()
# closes it at each line's end and opens it again on the next), said so.
function end_code() {
	if (code)
		print FILENAME ":" code ": a ` is not closed" > "/dev/stderr"
	code = 0
}

# roff TEXT MODE: TEXT escaped for roff. MODE "text": `code` is bold, and
# a hyphen that starts a word (an option) is \-, as are the others in that
# word; "literal": every hyphen is \-, a backquote is itself; "arg": as
# text, in a request's arguments (a double quote is \(dq). Words of code,
# options, identifiers and paths are not hyphenated, and code of up to 20
# bytes (ESC [ 0 K) is not broken across lines, nor any before its last
# space.
function roff(s, mode,    r, t, keep, i, c, prev, word, glue) {
	r = ""
	t = code ? "\\fB" : ""	# the word so far
	keep = code		# whether it holds code or an option
	prev = " "
	word = 0
	for (i = 1; i <= length(s); i++) {
		c = substr(s, i, 1)
		if (c !~ /[-A-Za-z0-9_]/)
			word = 0
		if (c == " " && code && (glue || substr(s, i + 1, 1) == "`")) {
			t = t "\\ "
		} else if (c == " ") {
			r = r unhyphenated(t, keep && mode == "text") c
			t = ""
			keep = code
		} else if (c == "\\") {
			t = t "\\e"
		} else if (c == "-") {
			if (mode == "literal" || code || word) {
				t = t "\\-"
			} else if (index(" ([\"'=", prev) &&
			    substr(s, i + 1, 1) ~ /[-A-Za-z0-9]/) {
				t = t "\\-"
				word = keep = 1
			} else {
				t = t "-"
			}
		} else if (c == "`" && mode != "literal") {
			t = t (code ? "\\fR" : "\\fB")
			code = code ? 0 : at	# (where it opened, if unclosed)
			glue = code && index(substr(s, i + 1, 21), "`")
			keep = 1
		} else if (c == "_" || c == "/") {
			t = t c		# CHAT_FRAME_MAX, tests/unit.c
			keep = 1
		} else if (c == "\"" && mode == "arg") {
			t = t "\\(dq"
		} else if (ord[c] >= 128) {
			t = t utf8(s, i)
			i += skip
		} else {
			t = t c
		}
		prev = c
	}
	r = r unhyphenated(t, keep && mode == "text")
	return code ? r "\\fR" : r
}

# unhyphenated WORD KEEP: WORD, marked (\%) not to be hyphenated if KEEP:
# such words are there to be copied as they are. (The mark goes first:
# inside a word it would be a place to hyphenate.)
function unhyphenated(t, keep) {
	return keep && t != "" ? "\\%" t : t
}

# utf8 TEXT I: the character whose first byte is TEXT's I-th, as
# \[uXXXX]; sets skip to how many more bytes it has. A byte that starts
# no valid character is U+FFFD.
function utf8(s, i,    b, k, more, cp) {
	b = ord[substr(s, i, 1)]
	if (b >= 194 && b < 224) {
		more = 1
		cp = b - 192
	} else if (b >= 224 && b < 240) {
		more = 2
		cp = b - 224
	} else if (b >= 240 && b < 245) {
		more = 3
		cp = b - 240
	} else {
		more = -1
	}
	for (k = 1; k <= more; k++) {
		b = ord[substr(s, i + k, 1)]
		if (b < 128 || b >= 192)
			more = -1
		else
			cp = cp * 64 + b - 128
	}
	# Overlong forms, UTF-16 surrogates, and beyond U+10FFFF.
	if ((more == 2 && (cp < 2048 || (cp >= 55296 && cp < 57344))) ||
	    (more == 3 && (cp < 65536 || cp > 1114111)))
		more = -1
	if (more < 0) {
		skip = 0
		return "\\[uFFFD]"
	}
	skip = more
	return sprintf("\\[u%04X]", cp)
}
