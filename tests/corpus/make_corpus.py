"""Writes the malformed-input corpus. Run from this directory: python3 make_corpus.py

The files are committed; this script documents how each was made (the Excel ones need openpyxl).
"""
import os

TXN_HEADER = "交易流水号,客户号,交易日期,交易时间,交易金额,借贷标志,交易渠道,交易类型\n"


def txn_rows(n, start=1):
    return "".join(
        f"T{i:08d},C{(i % 7) + 1:08d},202601{(i % 28) + 1:02d},10:{i % 60:02d}:00,{i * 3}.50,借,mobile,dining\n"
        for i in range(start, start + n)
    )


def write(name, data, mode="w", encoding="utf-8"):
    if isinstance(data, bytes):
        with open(name, "wb") as f:
            f.write(data)
    else:
        with open(name, mode, encoding=encoding, newline="") as f:
            f.write(data)


CUST_HEADER = "客户号,客户名称,证件类型,证件号码,性别,出生日期,手机号码,供养人口,统一社会信用代码\n"
GOOD_CUST = [
    "C00000001,张伟,居民身份证,11010519491231002X,女,19491231,13800138000,2,",
    "C00000002,李娜,居民身份证,440524188001010014,男,18800101,13912345678,0,",
    "C00000003,王芳,,,,,15011112222,1,",
]


def cust(*extra):
    return CUST_HEADER + "\n".join(GOOD_CUST + list(extra)) + "\n"


write("gbk_declared_utf8.csv", (TXN_HEADER + txn_rows(3)).encode("gbk"))
write("gbk_undeclared.csv", (TXN_HEADER + txn_rows(50)).encode("gbk"))
write("utf16.csv", "\ufeff".encode("utf-16-le") + (TXN_HEADER + txn_rows(3)).encode("utf-16-le"))
write("binary.csv", bytes(range(256)) * 4)
write("missing_required.csv", "交易流水号,客户号,交易日期,交易渠道\nT1,C1,20260101,mobile\n")
write("header_only.csv", TXN_HEADER)
write("empty.csv", "")
write("truncated.csv", TXN_HEADER + txn_rows(5) + "T00000099,C00000001,20260")
write("unbalanced_quote.csv", TXN_HEADER + txn_rows(3) + 'T00000010,C00000001,20260105,10:00:00,"12.50,借,mobile,dining\n' + txn_rows(3, 20))
write("bad_dates.csv", TXN_HEADER + txn_rows(1) + "T00000002,C00000001,20260230,10:00:00,5.00,借,mobile,dining\n" + txn_rows(3, 3))
write("bad_amount.csv", TXN_HEADER + txn_rows(2) + "T00000003,C00000001,20260105,10:00:00,12x3,借,mobile,dining\n" + txn_rows(3, 4))
write("bad_time.csv", TXN_HEADER + txn_rows(2) + "T00000003,C00000001,20260105,25:61:00,12.00,借,mobile,dining\n")
write("required_empty.csv", TXN_HEADER + txn_rows(1) + "T00000002,,20260105,10:00:00,12.00,借,mobile,dining\n")
write("extra_fields.csv", TXN_HEADER + txn_rows(2) + "T00000003,C00000001,20260105,10:00:00,12.00,借,mobile,dining,x,y\n")
write("duplicate_keys.csv", TXN_HEADER + txn_rows(3) + txn_rows(1, 2))
write("negative_count.csv", cust("C00000004,赵敏,,,,,13700001111,-2,"))
write("bad_id.csv", cust("C00000004,赵敏,居民身份证,110105194912310021,,,13700001111,1,"))
write("bad_mobile.csv", cust("C00000004,赵敏,,,,,12700001111,1,"))
write("bad_uscc.csv", cust("C00000004,某某有限公司,统一社会信用代码,,,,,,91440300708461136A"))
write("unknown_code.csv", cust("C00000004,赵敏,,,X,,13700001111,1,"))
write("two_key_columns.csv", "客户号,cust_no,交易日期,交易金额\nC1,C1,20260101,5\n")
write("not_a_workbook.xlsx", "this is text, not a workbook\n")
write("not_parquet.parquet", "PAR1 but not really")
write("customer.json", '{"cust_no": "C1"}\n')
# A 10 MB single line is made by the test itself, not committed.

try:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "交易流水"
    ws.append(["交易流水号", "客户号", "交易日期", "交易金额"])
    ws.append(["T1", "C1", "20260101", 10.5])
    ws.append(["T2", "C1", "20260102", "=B2*2"])  # a formula Excel never computed
    wb.save("excel_formula.xlsx")

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["交易流水号", "客户号", "交易日期", "交易金额"])
    ws.append(["T1", "C1", "20260101", 10.5])
    ws.append(["T2", "C1", "20260102", 11])
    ws.append(["T3", None, "20260103", 12])
    ws.merge_cells("B3:B4")
    wb.save("excel_merged.xlsx")

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["客户号", "客户名称", "出生日期", "金融资产余额"])
    import datetime
    ws.append(["C1", "张伟", datetime.date(1985, 3, 9), 1000000])
    ws.append(["C2", "李娜", datetime.date(1990, 12, 1), 25000.5])
    wb.save("good_customers.xlsx")
except ImportError:
    print("openpyxl missing: Excel files not regenerated")
