/**
 * Grants and revokes member roles from the operator's shell — the only way a role is given:
 *
 *   npm run operator -- grant <username> [--id <member id>]   give the operator role
 *   npm run operator -- revoke <username>                     take it away (effective at the next request)
 *   npm run operator -- list                                  members holding a role
 *
 * It talks to the database the API uses (MONGODB_URI, or the embedded FerretDB of a running
 * `npm start`). `grant` prints the member's id and sign-up time; pass `--id` to make sure the
 * role goes to that member and not to whoever holds the name by then.
 */
import { grantRole, membersWithRoles, revokeRole, RoleError, type MemberRoles } from '../src/accounts/roles';
import { ConfigError, loadConfig } from '../src/config';
import { connectDatabase } from '../src/db/connection';

const USAGE = 'usage: npm run operator -- grant <username> [--id <member id>] | revoke <username> | list';

function show(m: MemberRoles): string {
  return `${m.username}  id=${m.id}  signed up ${m.createdAt}  roles=[${m.roles.join(', ')}]`;
}

export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env, out: (line: string) => void = (l) => console.log(l)): Promise<number> {
  const [command, username, ...rest] = argv;
  const idAt = rest.indexOf('--id');
  const expectedId = idAt >= 0 ? rest[idAt + 1] : undefined;
  if (!command || (command !== 'list' && !username) || (idAt >= 0 && !expectedId) || !['grant', 'revoke', 'list'].includes(command)) {
    out(USAGE);
    return 2;
  }
  const config = loadConfig(env);
  const db = await connectDatabase(config.mongodbTarget, { timeoutMs: 5_000 });
  try {
    if (command === 'list') {
      const members = await membersWithRoles(db);
      for (const m of members) out(show(m));
      if (!members.length) out('no member holds a role');
    } else if (command === 'grant') {
      out(`granted: ${show(await grantRole(db, username!, 'operator', expectedId))}`);
    } else {
      out(`revoked: ${show(await revokeRole(db, username!, 'operator'))}`);
    }
    return 0;
  } catch (err) {
    if (err instanceof RoleError) {
      out(err.message);
      return 1;
    }
    throw err;
  } finally {
    await db.close();
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(err instanceof ConfigError ? err.message : `operator command failed: ${(err as Error).message}`);
      process.exit(1);
    },
  );
}
