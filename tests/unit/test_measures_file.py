"""Reading the målepunkter from the prioritisation workshop's CSV or XLSX file."""

from __future__ import annotations

import io

import pytest
from openpyxl import Workbook

from bot.domain.model import Area
from bot.plan.measures_file import (
    MAX_MEASURES,
    ImportedMeasure,
    MeasuresFile,
    Problem,
    read_measures,
)

DANISH = (
    "ESG-område;Målepunkt;Beskrivelse;Nuværende værdi;Enhed\r\n"
    "E;Energiforbrug i boligerne;Varme og el pr. m²;142;kWh/m²\r\n"
    "Sociale forhold;Beboertilfredshed;Andel af beboerne, der er tilfredse;78,5;%\r\n"
    "g;Bestyrelsens sammensætning;Kønsfordeling og alder;1.234,5;\r\n"
)
DANISH_MEASURES = (
    ImportedMeasure(Area.E, "Energiforbrug i boligerne", "Varme og el pr. m²", "142", "kWh/m²"),
    ImportedMeasure(Area.S, "Beboertilfredshed", "Andel af beboerne, der er tilfredse", "78,5", "%"),
    ImportedMeasure(Area.G, "Bestyrelsens sammensætning", "Kønsfordeling og alder", "1.234,5", ""),
)


def xlsx(*rows: list[object], title: str = "Ark1", before: str = "") -> bytes:
    book = Workbook()
    if before:  # an unrelated first sheet
        book.active.title = before
        book.active.append(["Noter"])
        sheet = book.create_sheet(title)
    else:
        sheet = book.active
        sheet.title = title
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def problems(result: MeasuresFile) -> list[tuple[int, str, dict[str, str]]]:
    return [(p.row, p.key, dict(p.params)) for p in result.problems]


def test_a_danish_excel_csv_in_windows_1252_with_semicolons() -> None:
    result = read_measures("målepunkter.csv", DANISH.encode("cp1252"))
    assert result.ok
    assert result.measures == DANISH_MEASURES


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig"])
def test_a_utf8_csv_with_or_without_bom(encoding: str) -> None:
    result = read_measures("MÅLEPUNKTER.CSV", DANISH.encode(encoding))
    assert result.ok
    assert result.measures == DANISH_MEASURES


def test_an_english_csv_with_commas() -> None:
    data = (b"Area,Name,Description,Current value,Unit\n"
            b'Environmental,Energy use,"Heat, water and power","1,234.5",kWh\n'
            b"social,Tenant satisfaction,,9.8,\n")
    result = read_measures("measures.csv", data)
    assert result.ok
    assert result.measures == (
        ImportedMeasure(Area.E, "Energy use", "Heat, water and power", "1,234.5", "kWh"),
        ImportedMeasure(Area.S, "Tenant satisfaction", "", "9.8", ""),
    )


def test_a_tab_separated_csv_with_unknown_columns_ignored() -> None:
    data = "Prioritet\tområde\tnavn\tværdi\nhøj\tS\tTryghed\t-3\n".encode()
    result = read_measures("m.csv", data)
    assert result.ok
    assert result.measures == (ImportedMeasure(Area.S, "Tryghed", current_value="-3"),)


def test_an_xlsx_with_numbers_and_columns_in_another_order() -> None:
    data = xlsx(["Enhed", "Noter", "Målepunkt", "Nuværende værdi", "ESG-område"],
                ["kWh/m²", "x", "Energiforbrug", 142.0, "Miljø"],
                [None, None, None, None, None],
                [None, None, "Affald", 9.8, "E"],
                ["antal", None, "Møder", 12, "Ledelse"])
    result = read_measures("Prioritering.XLSX", data)
    assert result.ok
    assert result.measures == (
        ImportedMeasure(Area.E, "Energiforbrug", "", "142", "kWh/m²"),
        ImportedMeasure(Area.E, "Affald", "", "9.8", ""),
        ImportedMeasure(Area.G, "Møder", "", "12", "antal"),
    )


def test_an_xlsx_reads_the_sheet_named_for_the_measures() -> None:
    data = xlsx(["area", "name"], ["G", "Whistleblower-ordning"], title="Målepunkter", before="Forside")
    assert read_measures("m.xlsx", data).measures == (ImportedMeasure(Area.G, "Whistleblower-ordning"),)


def test_xlsx_problems_name_the_spreadsheet_row() -> None:
    data = xlsx([], ["ESG", "Navn"], [], ["E", "Vand"], [None, None], ["X", "Varme"])
    result = read_measures("m.xlsx", data)
    assert result.measures == (ImportedMeasure(Area.E, "Vand"),)
    assert problems(result) == [(6, "measures_file.unknown_area", {"value": "X"})]


def test_each_bad_row_is_reported_with_its_row_number() -> None:
    data = (
        "Område;Målepunkt;Beskrivelse;Værdi;Enhed\n"  # 1
        "E;Energi;;142;kWh\n"                        # 2 fine
        "Q;Vand;;;\n"                                 # 3
        ";;;;\n"                                      # 4 empty: skipped
        "S;;;;\n"                                     # 5
        "G; energi ;;;\n"                             # 6
        "E;Affald;;mange;\n"                          # 7
        ";Tryghed;;;\n"                               # 8
        f"S;{'x' * 121};;;\n"                         # 9
        f"S;Trivsel;;;{'u' * 41}\n"                   # 10
    ).encode()
    result = read_measures("m.csv", data)
    assert not result.ok
    assert result.measures == (ImportedMeasure(Area.E, "Energi", "", "142", "kWh"),)
    assert problems(result) == [
        (3, "measures_file.unknown_area", {"value": "Q"}),
        (5, "measures_file.empty_name", {}),
        (6, "measures_file.duplicate", {"name": "energi", "first": "2"}),
        (7, "measures_file.not_a_number", {"value": "mange"}),
        (8, "measures_file.empty_area", {}),
        (9, "measures_file.too_long", {"column": "name", "max": "120"}),
        (10, "measures_file.too_long", {"column": "unit", "max": "40"}),
    ]


def test_too_long_descriptions_and_values() -> None:
    data = f"area;name;description;value\nE;A;{'d' * 1001};{'1' * 41}\nE;B;{'d' * 1000};{'1' * 40}\n".encode()
    result = read_measures("m.csv", data)
    assert [m.name for m in result.measures] == ["B"]
    assert problems(result) == [(2, "measures_file.too_long", {"column": "description", "max": "1000"}),
                                (2, "measures_file.too_long", {"column": "current_value", "max": "40"})]


def test_a_quoted_cell_over_several_lines_keeps_later_line_numbers_right() -> None:
    data = 'area;name;description\nE;Energi;"Første linje\nanden linje"\nX;Vand;\n'.encode()
    result = read_measures("m.csv", data)
    assert result.measures[0].description == "Første linje\nanden linje"
    assert problems(result) == [(4, "measures_file.unknown_area", {"value": "X"})]


def test_text_is_cleaned_of_control_characters_and_names_of_extra_spaces() -> None:
    data = 'area;name;description;unit\nE;"  Energi\x07 i\n  boligerne ";"Linje 1\x1b\r\nLinje 2";" m² "\n'
    result = read_measures("m.csv", data.encode())
    assert result.measures == (ImportedMeasure(Area.E, "Energi i boligerne", "Linje 1\nLinje 2", "", "m²"),)


@pytest.mark.parametrize("value", ["9,8", "9.8", "1.234,5", "1,234.5", "-3", "12 %", "12%", "0", "1 234", "−2,5"])
def test_numbers_written_the_danish_or_english_way(value: str) -> None:
    result = read_measures("m.csv", f"area;name;value\nE;Energi;{value}\n".encode())
    assert result.ok
    assert result.measures[0].current_value == value


@pytest.mark.parametrize("value", ["ca. 10", "10 kWh", "1,2,3", "%", "ti", "1.2.3,4,5"])
def test_values_that_are_not_numbers(value: str) -> None:
    result = read_measures("m.csv", f"area;name;value\nE;Energi;{value}\n".encode())
    assert problems(result) == [(2, "measures_file.not_a_number", {"value": value})]


@pytest.mark.parametrize(("text", "area"), [
    ("E", Area.E), ("environmental", Area.E), ("MILJØ", Area.E), ("E – Miljø", Area.E),
    ("s", Area.S), ("Social", Area.S), ("socialt", Area.S), ("Sociale forhold", Area.S),
    ("G", Area.G), ("Governance", Area.G), ("ledelse", Area.G),
])
def test_area_names_in_danish_and_english(text: str, area: Area) -> None:
    assert read_measures("m.csv", f"område;målepunkt\n{text};X\n".encode()).measures[0].area == area


@pytest.mark.parametrize(("name", "data"), [
    ("plan.pdf", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"),
    ("plan.docx", xlsx(["area", "name"], ["E", "x"])),
    ("plan.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(500)),
    ("plan", b"area;name\nE;x\n"),
    ("broken.xlsx", b"PK\x03\x04 not really a zip"),
    ("text.xlsx", b"area;name\nE;x\n"),
    ("workbook.csv", xlsx(["area", "name"], ["E", "x"])),
    ("binary.csv", bytes(range(256)) * 20),
    ("nuls.csv", "area;name\nE;x\n".encode("utf-16")),
])
def test_anything_but_a_csv_or_xlsx_is_refused(name: str, data: bytes) -> None:
    result = read_measures(name, data)
    assert result.measures == ()
    assert problems(result) == [(0, "measures_file.not_csv_xlsx", {"name": name})]


def test_more_than_nine_measures_is_too_many() -> None:
    rows = "".join(f"E;Målepunkt {i}\n" for i in range(MAX_MEASURES + 1))
    result = read_measures("m.csv", f"område;målepunkt\n{rows}".encode())
    assert len(result.measures) == MAX_MEASURES + 1
    assert not result.ok
    assert problems(result) == [(0, "measures_file.too_many", {"count": "10", "max": "9"})]


def test_nine_measures_are_fine() -> None:
    rows = "".join(f"S;Målepunkt {i}\n" for i in range(MAX_MEASURES))
    assert read_measures("m.csv", f"område;målepunkt\n{rows}".encode()).ok


def test_a_huge_list_is_read_only_so_far() -> None:
    rows = "".join(f"E;Målepunkt {i}\n" for i in range(5000))
    result = read_measures("m.csv", f"område;målepunkt\n{rows}".encode())
    assert not result.ok
    assert result.problems[-1] == Problem(0, "measures_file.too_many", {"count": "1000+", "max": "9"})


def test_a_file_over_two_megabytes_is_too_big() -> None:
    result = read_measures("m.csv", b"area;name\n" + b"E;x\n" * 600_000)
    assert problems(result) == [(0, "measures_file.too_big", {"max_mb": "2"})]


@pytest.mark.parametrize(("name", "data"), [
    ("m.csv", b""),
    ("m.csv", b"\r\n;;;\r\n\r\n"),
    ("m.csv", "\ufeffESG-område;Målepunkt\r\n;\r\n".encode()),
    ("m.xlsx", xlsx()),
    ("m.xlsx", xlsx(["ESG-område", "Målepunkt"])),
])
def test_a_file_without_measures_is_empty(name: str, data: bytes) -> None:
    result = read_measures(name, data)
    assert not result.ok
    assert problems(result) == [(0, "measures_file.empty", {})]


def test_missing_columns_are_named() -> None:
    result = read_measures("m.csv", b"Titel;Beskrivelse\nEnergi;Varme\n")
    assert problems(result) == [(0, "measures_file.missing_column", {"column": "area"}),
                                (0, "measures_file.missing_column", {"column": "name"})]


def test_the_header_is_the_first_non_empty_row() -> None:
    result = read_measures("m.csv", b";;\n\nArea;Name\nG;Ethics\n")
    assert result.measures == (ImportedMeasure(Area.G, "Ethics"),)
