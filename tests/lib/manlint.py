#!/usr/bin/env python3
"""manlint.py PAGE...: words that a man page's source runs together.

groff's alternating-font macros (.BR, .RB, .BI, .IB, .IR, .RI) join their
arguments with no space between them: `.BR \\-\\-tpm ).  Needs FUSE` renders
"--tpm).NeedsFUSE".  That is what they are for (`.BR inetboot\\-httpfs (1)`,
`.BI inetboot.url= URL`, `.IR URL .manifest`), but two arguments that both
touch a letter or a digit, or one that ends a sentence or a clause (.,;) and
one that starts with a letter or digit, are words run together.  Each is
printed as FILE:LINE; the exit status is 1 when there is any.  groff -ww
finds everything else (tests/integration/manpages.sh runs both).
"""
import re
import sys

ALTERNATING = {'.BR', '.RB', '.BI', '.IB', '.IR', '.RI'}


def macro_args(s):
    """A macro line's arguments as groff splits them: blanks separate, double quotes group ("" is a quote)."""
    out, cur, i, quoted, have = [], '', 0, False, False
    while i < len(s):
        c = s[i]
        if c == '\\' and i + 1 < len(s):
            cur += s[i:i + 2]
            i, have = i + 2, True
            continue
        if quoted:
            if c == '"' and s[i + 1:i + 2] == '"':
                cur += '"'
                i += 2
                continue
            if c == '"':
                quoted = False
            else:
                cur += c
        elif c == '"' and not have:
            quoted = have = True
        elif c in ' \t':
            if have:
                out.append(cur)
                cur, have = '', False
        else:
            cur += c
            have = True
        i += 1
    if have:
        out.append(cur)
    return out


def visible(arg):
    """The characters an argument shows: font changes and \\& gone, \\(xx a symbol, \\X the character X."""
    arg = re.sub(r'\\f(\[[^]]*\]|\(..|.)', '', arg)
    arg = arg.replace('\\&', '').replace('\\e', '\\')
    arg = re.sub(r'\\\(..|\\\[[^]]*\]', '\u2022', arg)
    return re.sub(r'\\(.)', r'\1', arg)


def run_together(path):
    found = []
    with open(path, encoding='utf-8') as f:
        for n, line in enumerate(f, 1):
            words = line.rstrip('\n').split(None, 1)
            if len(words) < 2 or words[0] not in ALTERNATING:
                continue
            shown = [visible(a) for a in macro_args(words[1])]
            for left, right in zip(shown, shown[1:]):
                if left and right and (left[-1].isalnum() or left[-1] in '.,;') and right[0].isalnum():
                    found.append(f'{path}:{n}: "{left}" and "{right}" run together: {line.rstrip()}')
    return found


def main():
    found = [msg for path in sys.argv[1:] for msg in run_together(path)]
    for msg in found:
        print(msg)
    return 1 if found else 0


if __name__ == '__main__':
    sys.exit(main())
