// What a JDBC tool (DBeaver, Tableau, FineBI, Kettle) does on connect, through Debian's pgjdbc:
// product name and version, schemas, tables, a table's columns, a prepared statement with a
// parameter. Prints what it finds, one fact per line, for tests/pg/clients.py to check.
// Usage: java -cp postgresql.jar tests/pg/Jdbc.java PORT USER TOKEN TABLE QUERY PARAM
import java.sql.*;

public class Jdbc {
    public static void main(String[] a) throws Exception {
        String url = "jdbc:postgresql://127.0.0.1:" + a[0] + "/portrait";
        try (Connection c = DriverManager.getConnection(url, a[1], a[2])) {
            DatabaseMetaData md = c.getMetaData();
            System.out.println("product\t" + md.getDatabaseProductName() + "\t" + md.getDatabaseProductVersion());
            try (ResultSet r = md.getSchemas()) {
                while (r.next()) System.out.println("schema\t" + r.getString("TABLE_SCHEM"));
            }
            try (ResultSet r = md.getTables(null, "public", "%", new String[] {"TABLE"})) {
                while (r.next()) System.out.println("table\t" + r.getString("TABLE_NAME"));
            }
            try (ResultSet r = md.getColumns(null, "public", a[3], "%")) {
                while (r.next()) System.out.println("column\t" + r.getString("COLUMN_NAME") + "\t" + r.getString("TYPE_NAME"));
            }
            try (PreparedStatement p = c.prepareStatement(a[4])) {
                p.setInt(1, Integer.parseInt(a[5]));
                try (ResultSet r = p.executeQuery()) {
                    int n = r.getMetaData().getColumnCount();
                    while (r.next()) {
                        StringBuilder b = new StringBuilder("row");
                        for (int i = 1; i <= n; i++) b.append('\t').append(r.getString(i));
                        System.out.println(b);
                    }
                }
            }
            try (Statement s = c.createStatement()) {
                s.executeUpdate("DELETE FROM party");
                System.out.println("write\taccepted");
            } catch (SQLException e) {
                System.out.println("write\t" + e.getSQLState());
            }
        }
    }
}
