/** `npm run db:migrate`: applies db/migrations to DATABASE_URL (or the embedded database). */
import { closeDatabase, openDatabase } from "@/db/client";
import { config } from "@/lib/config";

const d = await openDatabase();
try {
  await d.migrate();
  console.log(`Migrations applied (${config().database.kind}).`);
} finally {
  await d.close();
  await closeDatabase();
}
