#!/usr/bin/env python3
"""Prints the rows of the first sheet of an XLSX file as JSON (a list of lists: strings,
numbers, or null for empty cells). Standard library only (zipfile + xml), written from the
Office Open XML format, not from the code that wrote the file.

    xlsx_rows.py cdr.xlsx
"""

import json
import re
import sys
import zipfile
import xml.etree.ElementTree as ET

NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}


def col_index(ref):
    letters = re.match(r"[A-Z]+", ref).group(0)
    n = 0
    for ch in letters:
        n = n * 26 + (ord(ch) - 64)
    return n - 1


def text_of(si):
    return "".join(t.text or "" for t in si.iter("{%s}t" % NS["m"]))


def rows(path):
    with zipfile.ZipFile(path) as z:
        shared = []
        if "xl/sharedStrings.xml" in z.namelist():
            root = ET.fromstring(z.read("xl/sharedStrings.xml"))
            shared = [text_of(si) for si in root.findall("m:si", NS)]
        wb = ET.fromstring(z.read("xl/workbook.xml"))
        first = wb.find("m:sheets/m:sheet", NS)
        rels = ET.fromstring(z.read("xl/_rels/workbook.xml.rels"))
        rid = first.get("{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id")
        target = next(r.get("Target") for r in rels if r.get("Id") == rid)
        sheet = ET.fromstring(z.read("xl/" + target.lstrip("/").replace("xl/", "", 1)))
        out = []
        for row in sheet.findall("m:sheetData/m:row", NS):
            cells = []
            for c in row.findall("m:c", NS):
                i = col_index(c.get("r"))
                while len(cells) < i:
                    cells.append(None)
                kind = c.get("t")
                v = c.find("m:v", NS)
                if kind == "s":
                    cells.append(shared[int(v.text)])
                elif kind == "inlineStr":
                    cells.append(text_of(c.find("m:is", NS)))
                elif kind == "str":
                    cells.append(v.text if v is not None else "")
                elif v is None:
                    cells.append(None)
                else:
                    num = float(v.text)
                    cells.append(int(num) if num.is_integer() else num)
            out.append(cells)
        return {"sheet": first.get("name"), "rows": out}


if __name__ == "__main__":
    print(json.dumps(rows(sys.argv[1])))
