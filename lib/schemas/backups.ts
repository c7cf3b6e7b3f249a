import { z } from "zod";
import { BACKUP_KINDS } from "../backups";
import { SNAPSHOT_STATUSES } from "../compute/types";
import { idOf, pageQuery, timestamp } from "./common";

export const backupResource = z
  .object({
    id: z.string().meta({ example: "bkp_01jd3z6v7a8b9c0d1e2f3g4h5j" }),
    kind: z.enum(BACKUP_KINDS).meta({ description: "`scheduled`: the daily snapshot of the instance's volume; `on_demand`: one taken by `POST /instances/{id}/backups`" }),
    status: z.enum(SNAPSHOT_STATUSES).meta({ description: "`creating` until the snapshot is complete; only a `ready` backup can be restored" }),
    size_bytes: z.number().int().nullable().meta({ description: "Bytes stored; null until known", example: 36007729 }),
    created_at: timestamp.meta({ description: "When the snapshot was taken: the data a restore brings back is the volume's at this moment" }),
    expires_at: timestamp.nullable().meta({ description: "When it is deleted (its retention: 7 days on Pro, 30 on Business); null until known" }),
  })
  .meta({ id: "Backup" });

export const listBackupsQuery = pageQuery("bkp");

export const restoreBody = z
  .strictObject({
    backup_id: idOf("bkp").meta({ description: "A `ready` backup of this instance, from `GET /instances/{id}/backups`", example: "bkp_01jd3z6v7a8b9c0d1e2f3g4h5j" }),
  })
  .meta({ id: "RestoreInstanceRequest" });

export type BackupResource = z.output<typeof backupResource>;
