"""Writes the files CRMs and spreadsheets export, byte for byte as they write them.

Each writer takes the same clients and produces one export kind, with that
tool's header names, encoding, delimiter and line endings, so a test can
onboard each and compare what reaches the server. Written here from each
tool's documented format, not copied from anywhere.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable
from pathlib import Path

import attrs


@attrs.frozen
class Person:
    """One real client as a CRM holds it."""

    first: str
    last: str
    company: str
    email: str
    domain: str
    crm_id: str


#: Accents that every Western European code page has (cp1252 can hold them all).
PEOPLE = (
    Person("José", "Núñez", "Café Señorío", "jose@senorio.example", "senorio.example", "101"),
    Person("Zoë", "Müller", "Bäckerei Müller", "zoe@mueller.example", "mueller.example", "102"),
    Person("Françoise", "Leblanc", "Crème & Co", "f@creme.example", "creme.example", "103"),
    Person("Søren", "Ødegård", "Fjord Æble", "soren@fjord.example", "fjord.example", "104"),
)


def _lines(rows: list[list[str]], delimiter: str) -> str:
    def cell(value: str) -> str:
        return f'"{value}"' if delimiter in value or '"' in value else value

    return "".join(delimiter.join(cell(v) for v in row) + "\r\n" for row in rows)


def excel_utf8(path: Path) -> Path:
    """Excel's "CSV UTF-8": a BOM, CRLF, the headers as a person typed them."""
    rows = [["Name", "Email", "Company", "Website"]]
    rows += [[p.company, p.email, p.company, f"https://{p.domain}"] for p in PEOPLE]
    path.write_bytes(codecs.BOM_UTF8 + _lines(rows, ",").encode())
    return path


def excel_eu(path: Path) -> Path:
    """Excel's "CSV" on a European locale: ';' and Windows-1252, no BOM."""
    rows = [["Name", "E-mail", "Company"]]
    rows += [[p.company, p.email, p.company] for p in PEOPLE]
    path.write_bytes(_lines(rows, ";").encode("cp1252"))
    return path


def utf16(path: Path) -> Path:
    """Excel's "Unicode text": UTF-16 little-endian with a BOM, tab-separated."""
    rows = [["name", "email", "external_id"]]
    rows += [[p.company, p.email, p.crm_id] for p in PEOPLE]
    path.write_bytes(codecs.BOM_UTF16_LE + _lines(rows, "\t").encode("utf-16-le"))
    return path


def google_sheets(path: Path) -> Path:
    """Google Sheets' "Comma-separated values": trailing blank columns, CRLF, no BOM."""
    rows = [["Client Name", "Email Address", "Notes", "", ""]]
    rows += [[p.company, p.email, "", "", ""] for p in PEOPLE]
    path.write_bytes(_lines(rows, ",").encode())
    return path


def hubspot(path: Path) -> Path:
    """HubSpot's contacts export: its column names, websites without a scheme."""
    rows = [["Record ID", "First Name", "Last Name", "Email", "Company Name", "Website URL"]]
    rows += [[p.crm_id, p.first, p.last, p.email, p.company, p.domain] for p in PEOPLE]
    path.write_bytes(_lines(rows, ",").encode())
    return path


def salesforce(path: Path) -> Path:
    """Salesforce's report export: Account Name, Account ID, quoted cells."""
    rows = [["Account Name", "First Name", "Last Name", "Email", "Website", "Account ID"]]
    rows += [[p.company, p.first, p.last, p.email, f"www.{p.domain}", p.crm_id] for p in PEOPLE]
    path.write_text(
        "".join(",".join(f'"{v}"' for v in row) + "\n" for row in rows), encoding="utf-8"
    )
    return path


def xlsx(path: Path) -> Path:
    """An Excel workbook: a first sheet of clients, numbers as numbers."""
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Clients"
    sheet.append(["Company Name", "Email", "CRM ID"])
    for p in PEOPLE:
        sheet.append([p.company, p.email, int(p.crm_id)])
    book.create_sheet("Notes").append(["nothing to onboard here"])
    book.save(path)
    return path


def google_contacts(path: Path) -> Path:
    """Google Contacts' export: UTF-8, no BOM; a person's addresses joined with " ::: "."""
    rows = [["First Name", "Last Name", "Organization Name", "E-mail 1 - Label",
             "E-mail 1 - Value"]]  # fmt: skip
    rows += [
        [p.first, p.last, p.company, "* Work", f"{p.email} ::: {p.crm_id}@home.example"]
        for p in PEOPLE
    ]
    path.write_bytes(_lines(rows, ",").encode())
    return path


def monday(path: Path) -> Path:
    """monday.com's "Export to Excel" of a board: its title, then per group a title row,
    the header again, and the group's items, a blank row between groups."""
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Client Onboarding"])
    header = ["Name", "Person", "Status", "Email", "Company"]
    for group, people in (("New leads", PEOPLE[:2]), ("Signed", PEOPLE[2:])):
        sheet.append([group])
        sheet.append(header)
        for p in people:
            sheet.append([p.company, f"{p.first} {p.last}", "Working on it", p.email, p.company])
        sheet.append([])
    book.save(path)
    return path


def mailchimp(path: Path) -> Path:
    """Mailchimp's audience export: every cell quoted, UTF-8, LF, its own columns."""
    rows = [["Email Address", "First Name", "Last Name", "Address", "Phone Number", "Company",
             "MEMBER_RATING", "OPTIN_TIME", "LEID", "EUID", "TAGS"]]  # fmt: skip
    rows += [
        [p.email, p.first, p.last, "1 Main St, Springfield", "", p.company, "2",
         "2026-01-02 10:00:00", p.crm_id, f"e{p.crm_id}", '"Clients"']
        for p in PEOPLE
    ]  # fmt: skip
    text = "".join(",".join('"' + v.replace('"', '""') + '"' for v in row) + "\n" for row in rows)
    path.write_text(text, encoding="utf-8")
    return path


def airtable(path: Path) -> Path:
    """Airtable's "Download CSV" of a grid view: a BOM, CRLF, the primary field first."""
    rows = [["Client", "Email", "Website", "Status"]]
    rows += [[p.company, p.email, f"https://{p.domain}", "Todo"] for p in PEOPLE]
    path.write_bytes(codecs.BOM_UTF8 + _lines(rows, ",").encode())
    return path


def numbers(path: Path) -> Path:
    """Apple Numbers' "Export To CSV" (Unicode UTF-8): no BOM, LF, "Client name" first."""
    rows = [["Client name", "Email", "Website"]]
    rows += [[p.company, p.email, p.domain] for p in PEOPLE]
    path.write_bytes(_lines(rows, ",").replace("\r\n", "\n").encode())
    return path


def libreoffice(path: Path) -> Path:
    """LibreOffice Calc's "Text CSV" with a Western charset: Windows-1252, commas, LF."""
    rows = [["Name", "Email", "Company"]]
    rows += [[p.company, p.email, p.company] for p in PEOPLE]
    path.write_bytes(_lines(rows, ",").replace("\r\n", "\n").encode("cp1252"))
    return path


def pipedrive(path: Path) -> Path:
    """Pipedrive's organizations export, with each organization's contact person."""
    rows = [["Organization - ID", "Organization - Name", "Organization - Website",
             "Person - Name", "Person - Email"]]  # fmt: skip
    rows += [[p.crm_id, p.company, p.domain, f"{p.first} {p.last}", p.email] for p in PEOPLE]
    path.write_bytes(_lines(rows, ",").encode())
    return path


def excel_mac(path: Path) -> Path:
    """Excel for Mac's "Comma Separated Values": Mac OS Roman, and CR alone ends a line."""
    rows = [["Name", "Email", "Company"]]
    rows += [[p.company, p.email, p.company] for p in PEOPLE]
    path.write_bytes(_lines(rows, ",").replace("\r\n", "\r").encode("mac_roman"))
    return path


#: Every export kind, by name: the writer and the file name it is written to.
EXPORTS: dict[str, tuple[Callable[[Path], Path], str]] = {
    "excel-utf8": (excel_utf8, "clients.csv"),
    "excel-eu": (excel_eu, "clients.csv"),
    "utf16": (utf16, "clients.txt"),
    "google-sheets": (google_sheets, "clients.csv"),
    "hubspot": (hubspot, "hubspot.csv"),
    "salesforce": (salesforce, "report.csv"),
    "xlsx": (xlsx, "clients.xlsx"),
    "monday": (monday, "board.xlsx"),
    "google-contacts": (google_contacts, "contacts.csv"),
    "mailchimp": (mailchimp, "members_export.csv"),
    "airtable": (airtable, "Grid view.csv"),
    "numbers": (numbers, "Clients.csv"),
    "libreoffice": (libreoffice, "clients.csv"),
    "pipedrive": (pipedrive, "organizations.csv"),
    "excel-mac": (excel_mac, "clients.csv"),
}
