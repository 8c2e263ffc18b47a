"""`portrait serve --pg` with real clients: psql, psycopg 3, SQLAlchemy and pandas.

A generated bank (2,000 customers) goes through the pipeline; an admin, an analyst, a marketer
and an auditor get tokens; the server runs with `--pg`. Each test is what a user of one of these
clients does, checked against `portrait sql` (the operator's view of the same store) and against
the masking rules of docs/security.md.
"""

import csv
import io
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import unittest

import pandas
import psycopg
import sqlalchemy

BIN = os.environ["PORTRAIT_BIN"]
TMP = tempfile.mkdtemp(prefix="portrait-pg-")
STORE = os.path.join(TMP, "store")


def portrait(*args):
    return subprocess.run(
        [BIN, "--quiet", *args], check=True, capture_output=True, text=True
    ).stdout


def cli_sql(query):
    """Rows of `portrait sql` (the operator's unmasked view) as lists of strings."""
    out = portrait("--store", STORE, "sql", "--format", "csv", query)
    return list(csv.reader(io.StringIO(out)))[1:]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


TOKENS = {}
PORT = 0
SERVER = None
LOG = None


def setUpModule():
    global PORT, SERVER, LOG
    bank = os.path.join(TMP, "bank")
    portrait("generate", "--customers", "2000", "--seed", "11", "--out", bank)
    portrait("--store", STORE, "ingest", bank)
    portrait("--store", STORE, "run")
    for role in ("admin", "analyst", "marketer", "auditor"):
        TOKENS[role] = portrait(
            "--store", STORE, "user", "add", f"{role}1", "--role", role
        ).strip()
    PORT = free_port()
    LOG = open(os.path.join(TMP, "server.log"), "w")
    SERVER = subprocess.Popen(
        [BIN, "--store", STORE, "serve", "--addr", f"127.0.0.1:{free_port()}",
         "--pg", f"127.0.0.1:{PORT}"],
        stdout=LOG, stderr=LOG,
    )
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", PORT), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the server did not listen")


def tearDownModule():
    if SERVER:
        SERVER.terminate()
        SERVER.wait(timeout=10)
        LOG.close()
        if SERVER.returncode not in (0, -15):
            print(open(os.path.join(TMP, "server.log")).read())


def connect(role, **kw):
    return psycopg.connect(
        host="127.0.0.1", port=PORT, user=f"{role}1", password=TOKENS[role],
        dbname="portrait", **kw,
    )


def psql(role, command, password=None):
    env = dict(os.environ, PGPASSWORD=password or TOKENS[role], PGCONNECT_TIMEOUT="10")
    return subprocess.run(
        ["psql", "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1",
         f"host=127.0.0.1 port={PORT} user={role}1 dbname=portrait", "-c", command],
        capture_output=True, text=True, env=env, timeout=60,
    )


def masked_name(name):
    return name[0] + "*" * max(len(name) - 1, 1)


def masked_keep(s, head, tail):
    chars = list(s)
    if len(chars) <= head + tail:
        return "*" * len(chars)
    return "".join(chars[:head]) + "*" * (len(chars) - head - tail) + "".join(chars[-tail:])


class Psql(unittest.TestCase):
    def test_lists_the_tables(self):
        r = psql("marketer", r"\dt")
        self.assertEqual(r.returncode, 0, r.stderr)
        names = {line.split("|")[1] for line in r.stdout.splitlines() if "|" in line}
        expected = {row[0] for row in cli_sql(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = 'public'")}
        self.assertIn("features", names)
        self.assertIn("party", names)
        self.assertEqual(names, expected)

    def test_describes_a_table(self):
        r = psql("analyst", r"\d segment")
        self.assertEqual(r.returncode, 0, r.stderr)
        columns = [line.split("|")[0] for line in r.stdout.splitlines() if "|" in line]
        self.assertEqual(columns, ["model", "party_id", "segment", "distance"])

    def test_runs_a_query_masked_for_a_marketer(self):
        r = psql("marketer", "SELECT name FROM party ORDER BY party_id LIMIT 3")
        self.assertEqual(r.returncode, 0, r.stderr)
        plain = [row[0] for row in cli_sql("SELECT name FROM party ORDER BY party_id LIMIT 3")]
        self.assertEqual(r.stdout.split(), [masked_name(n) for n in plain])

    def test_statements_and_literals_reach_the_engine_as_written(self):
        r = psql("analyst", "SELECT 'O''Brien' AS a, 'x'' OR ''1''=''1' AS b; -- done")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.strip(), "O'Brien|x' OR '1'='1")

    def test_a_wrong_token_is_refused(self):
        r = psql("marketer", "SELECT 1", password="ptk_nope.nope")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("password authentication failed", r.stderr)

    def test_the_auditor_reads_the_audit_log_not_the_store(self):
        r = psql("auditor", "SELECT 1")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("audit log only", r.stderr)


class Psycopg(unittest.TestCase):
    QUERY = ("SELECT party_id, name, id_no, mobile FROM party "
             "WHERE id_no IS NOT NULL AND mobile IS NOT NULL ORDER BY party_id LIMIT 50")

    def test_admin_sees_what_the_operator_sees(self):
        with connect("admin") as c:
            rows = [[str(v) for v in r] for r in c.execute(self.QUERY).fetchall()]
        self.assertEqual(rows, cli_sql(self.QUERY))

    def test_marketer_sees_masked_values(self):
        plain = cli_sql(self.QUERY)
        with connect("marketer") as c:
            rows = c.execute(self.QUERY).fetchall()
        self.assertEqual(len(rows), len(plain))
        for (pid, name, id_no, mobile), p in zip(rows, plain):
            self.assertEqual(pid, p[0])
            self.assertEqual(name, masked_name(p[1]))
            self.assertEqual(id_no, masked_keep(p[2], 3, 4))
            self.assertEqual(mobile, masked_keep(p[3], 3, 4))
            self.assertNotEqual(name, p[1])

    def test_aliases_functions_and_filters_do_not_unmask(self):
        plain = cli_sql("SELECT name, id_no FROM party WHERE id_no IS NOT NULL ORDER BY party_id LIMIT 1")[0]
        with connect("marketer") as c:
            aliased = c.execute(
                "SELECT p.name AS x, lower(p.id_no) AS y, concat(p.id_no, '') AS z "
                "FROM party p WHERE p.id_no IS NOT NULL ORDER BY p.party_id LIMIT 1").fetchone()
            self.assertNotIn(plain[0], aliased)
            self.assertNotIn(plain[1].lower(), [str(v).lower() for v in aliased])
            n = c.execute("SELECT count(*) FROM party WHERE id_no = %s", (plain[1],)).fetchone()[0]
            self.assertEqual(n, 0)

    def test_parameters_and_binary_results_equal_the_cli(self):
        want = cli_sql("SELECT count(*), sum(monetary) FROM features WHERE age > 40 AND city <> 'x'")[0]
        q = "SELECT count(*), sum(monetary) FROM features WHERE age > %s AND city <> %s"
        with connect("analyst") as c:
            text = c.execute(q, (40, "x")).fetchone()
            with c.cursor(binary=True) as cur:
                binary = cur.execute(q, (40, "x")).fetchone()
        self.assertEqual(text[0], int(want[0]))
        self.assertAlmostEqual(text[1], float(want[1]), places=2)
        # The sum of floats may differ in its last digits between runs (partitions add in any
        # order); the count and the decoded types may not.
        self.assertEqual(text[0], binary[0])
        self.assertAlmostEqual(text[1], binary[1], delta=abs(text[1]) * 1e-12)

    def test_types_arrive_typed(self):
        q = ("SELECT party_id, birth_date, financial_assets, has_property, dependents, "
             "CAST(1.25 AS DECIMAL(10,2)) AS d, true AS b FROM party "
             "WHERE birth_date IS NOT NULL AND financial_assets IS NOT NULL ORDER BY party_id LIMIT 20")
        want = cli_sql(q)
        with connect("admin") as c:
            for binary in (False, True):
                with c.cursor(binary=binary) as cur:
                    rows = cur.execute(q).fetchall()
                    self.assertEqual(len(rows), len(want))
                    for row, w in zip(rows, want):
                        self.assertIsInstance(row[1], __import__("datetime").date)
                        self.assertEqual(row[1].isoformat(), w[1])
                        self.assertEqual(row[2], __import__("decimal").Decimal(w[2]))
                        self.assertEqual(row[3], w[3] == "true")
                        self.assertEqual(str(row[4]), w[4])
                        self.assertEqual(str(row[5]), "1.25")
                        self.assertIs(row[6], True)
        with connect("marketer") as c:
            born = c.execute(q).fetchall()
        self.assertEqual([r[1] for r in born], [w[1][:4] + "-**-**" for w in want])

    def test_writes_are_refused_and_change_nothing(self):
        target = os.path.join(TMP, "written.csv")
        before = cli_sql("SELECT count(*) FROM party")
        for stmt in (
            "CREATE TABLE x AS SELECT 1 AS a",
            "INSERT INTO party (party_id) VALUES ('P9')",
            "DROP TABLE party",
            f"COPY (SELECT * FROM party) TO '{target}'",
            "CREATE EXTERNAL TABLE e STORED AS CSV LOCATION '/etc/passwd'",
        ):
            with self.subTest(stmt=stmt), connect("admin", autocommit=True) as c:
                with self.assertRaises(psycopg.Error) as e:
                    c.execute(stmt)
                self.assertEqual(e.exception.sqlstate, "25006", str(e.exception))
        self.assertFalse(os.path.exists(target))
        self.assertEqual(cli_sql("SELECT count(*) FROM party"), before)

    def test_plans_with_statistics_are_for_admins(self):
        with connect("marketer") as c:
            c.execute("EXPLAIN SELECT count(*) FROM party").fetchall()
            with self.assertRaises(psycopg.Error) as e:
                c.execute("EXPLAIN VERBOSE SELECT id_no FROM party")
            self.assertEqual(e.exception.sqlstate, "42501")
        with connect("admin") as c:
            self.assertTrue(c.execute("EXPLAIN VERBOSE SELECT id_no FROM party").fetchall())

    def test_a_revoked_token_ends_its_open_connection(self):
        token = portrait("--store", STORE, "user", "add", "leaver", "--role", "analyst").strip()
        c = psycopg.connect(host="127.0.0.1", port=PORT, user="leaver", password=token,
                            dbname="portrait", autocommit=True)
        self.assertEqual(c.execute("SELECT count(*) FROM party").fetchone()[0],
                         int(cli_sql("SELECT count(*) FROM party")[0][0]))
        portrait("--store", STORE, "user", "revoke", "leaver", "--by", "tests")
        time.sleep(6)  # verified tokens are trusted for 5 seconds
        with self.assertRaises(psycopg.Error):
            c.execute("SELECT count(*) FROM party").fetchone()
        c.close()

    def test_failed_logins_are_audited_without_the_name_tried(self):
        r = psql("marketer", "SELECT 1", password="ptk_wrongid.wrongsecret")
        self.assertNotEqual(r.returncode, 0)
        out = portrait("--store", STORE, "audit", "--action", "pg.login", "--format", "json")
        records = json.loads(out)
        failed = [r for r in records if r["status"] == 401]
        self.assertTrue(failed, out)
        self.assertNotIn("marketer1", json.dumps(failed))
        self.assertNotIn("wrongsecret", out)

    def test_queries_are_audited_with_literals_hashed(self):
        with connect("marketer") as c:
            c.execute("SELECT count(*) FROM party WHERE name = '张秘密'").fetchone()
            c.execute("SELECT count(*) FROM party WHERE name = %s", ("李隐私",)).fetchone()
        out = portrait("--store", STORE, "audit", "--action", "pg.query", "--user", "marketer1",
                       "--format", "json")
        self.assertIn("pg.query", out)
        self.assertNotIn("张秘密", out)
        self.assertNotIn("李隐私", out)
        records = [json.loads(line) for line in out.splitlines() if line.strip().startswith("{")] \
            if not out.lstrip().startswith("[") else json.loads(out)
        self.assertTrue(any(r.get("rows") == 1 and r.get("status") == 200 for r in records), out)


class Jdbc(unittest.TestCase):
    """What DBeaver and other JDBC tools send, through Debian's pgjdbc (tests/pg/Jdbc.java)."""

    def test_a_jdbc_tool_connects_lists_tables_and_queries_masked(self):
        q = ("SELECT p.party_id, p.name, f.age FROM party p JOIN features f ON p.party_id = f.party_id "
             "WHERE f.age > {} ORDER BY p.party_id LIMIT 5")
        r = subprocess.run(
            ["java", "-cp", os.environ.get("PGJDBC", "/usr/share/java/postgresql.jar"),
             os.path.join(os.path.dirname(__file__), "Jdbc.java"), str(PORT), "marketer1",
             TOKENS["marketer"], "segment", q.format("?"), "30"],
            capture_output=True, text=True, timeout=300,
        )
        self.assertEqual(r.returncode, 0, r.stderr)
        facts = [line.split("\t") for line in r.stdout.splitlines()]
        by = lambda kind: [f[1:] for f in facts if f[0] == kind]
        self.assertEqual(by("product")[0][0], "PostgreSQL")
        self.assertIn(["public"], by("schema"))
        tables = {t[0] for t in by("table")}
        self.assertEqual(tables, {row[0] for row in cli_sql(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")})
        self.assertEqual([c[0] for c in by("column")], ["model", "party_id", "segment", "distance"])
        self.assertEqual(by("column")[3][1], "float8")
        plain = cli_sql(q.format("30"))
        self.assertEqual(by("row"), [[p[0], masked_name(p[1]), p[2]] for p in plain])
        self.assertEqual(by("write"), [["25006"]])


class SqlAlchemyPandas(unittest.TestCase):
    def engine(self, role):
        return sqlalchemy.create_engine(
            f"postgresql+psycopg://{role}1:{TOKENS[role]}@127.0.0.1:{PORT}/portrait")

    def test_lists_tables_and_reads_a_frame(self):
        eng = self.engine("marketer")
        names = sqlalchemy.inspect(eng).get_table_names()
        self.assertIn("features", names)
        self.assertTrue(sqlalchemy.inspect(eng).has_table("party"))
        frame = pandas.read_sql(
            "SELECT segment, count(*) AS n FROM segment GROUP BY segment ORDER BY segment", eng)
        want = cli_sql("SELECT segment, count(*) AS n FROM segment GROUP BY segment ORDER BY segment")
        self.assertEqual([[str(a), str(b)] for a, b in frame.itertuples(index=False)], want)
        eng.dispose()


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=2).result
    failed = len(result.failures) + len(result.errors)
    print(f"# pass {result.testsRun - failed}")
    print(f"# fail {failed}")
    sys.exit(1 if failed else 0)
