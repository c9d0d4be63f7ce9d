/**
 * /api/v1/auth: sign up, log in, log out (this session, or every session: logout-all), who am I, withdraw. Thin: validate at the edge, call the
 * AccountService, shape the answer.
 */
import express, { type Router } from 'express';
import type { AccountService } from '../../src/accounts/service';
import { loginSchema, signupSchema, withdrawSchema } from '../../src/accounts/rules';
import type { Config } from '../../src/config';
import { parseInput } from '../../src/errors';
import { clearSessionCookie, currentUser, setSessionCookie } from '../auth-middleware';

export function authRouter(accounts: AccountService, config: Config): Router {
  const r = express.Router();
  const secure = config.sessionCookieSecure;
  const address = (req: express.Request) => req.ip ?? req.socket.remoteAddress ?? 'unknown';

  r.post('/signup', async (req, res) => {
    const input = parseInput(signupSchema, req.body);
    const user = await accounts.signup(input);
    res.status(201).json(user);
  });

  r.post('/login', async (req, res) => {
    const input = parseInput(loginSchema, req.body);
    const result = await accounts.login(input, address(req));
    setSessionCookie(res, result.token, result.expiresAt, secure);
    res.setHeader('Cache-Control', 'no-store');
    res.json({ token: result.token, tokenType: 'Bearer', expiresAt: result.expiresAt.toISOString(), user: result.user });
  });

  r.post('/logout', async (req, res) => {
    if (req.sessionToken) await accounts.logout(req.sessionToken);
    clearSessionCookie(res, secure);
    res.status(204).end();
  });

  r.post('/logout-all', async (req, res) => {
    const revoked = await accounts.logoutEverywhere(currentUser(req).id);
    clearSessionCookie(res, secure);
    res.json({ revoked });
  });

  r.get('/me', async (req, res) => {
    const user = currentUser(req);
    const me = await accounts.me(user.id);
    if (!me) throw new Error(`session of ${user.id} outlived the member`);
    res.json({ ...me, roles: user.roles });
  });

  r.delete('/me', async (req, res) => {
    const { password } = parseInput(withdrawSchema, req.body);
    const result = await accounts.withdraw(currentUser(req).id, password, address(req));
    clearSessionCookie(res, secure);
    res.json({ withdrawn: true, ...result });
  });

  return r;
}
