/**
 * The stack self-test record: `npm start` runs the selfTest workflow once at start-up, whose
 * activity writes one of these through the worker's database connection and reads it back. A
 * "ready" therefore means Temporal, the worker and MongoDB really work together.
 */
import { Schema, type Connection, type Model } from 'mongoose';

export interface SelfTestRecord {
  _id: string;
  workflowId: string;
  note: string;
  createdAt: Date;
}

const selfTestSchema = new Schema<SelfTestRecord>(
  {
    _id: { type: String, required: true },
    workflowId: { type: String, required: true },
    note: { type: String, required: true },
  },
  { timestamps: { createdAt: true, updatedAt: false }, versionKey: false },
);

export function selfTestModel(conn: Connection): Model<SelfTestRecord> {
  return (conn.models.SelfTest as Model<SelfTestRecord>) ?? conn.model<SelfTestRecord>('SelfTest', selfTestSchema, 'selftests');
}
