#!/usr/bin/python3
"""Embeds a text file as a C string: embed.py INPUT OUTPUT SYMBOL."""
import sys

src, dst, sym = sys.argv[1], sys.argv[2], sys.argv[3]
data = open(src, 'rb').read()
with open(dst, 'w') as f:
    f.write('/* generated from %s */\n#pragma once\n' % src.split('/')[-1])
    f.write('static const char %s[] =\n' % sym)
    for line in data.decode('utf-8').splitlines(keepends=True):
        esc = line.replace('\\', '\\\\').replace('"', '\\"').replace('\n', '\\n')
        f.write('        "%s"\n' % esc)
    f.write('        ;\n')
