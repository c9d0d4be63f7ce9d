/**
 * /api/v1/auth: sign up, log in, log out (this session, or every session: logout-all), who am I, withdraw. Thin: validate at the edge, call the
 * AccountService, shape the answer.
 */
import type { Request } from 'express';
import type { AccountService } from '../../src/accounts/service';
import type { Config } from '../../src/config';
import { drWorkflowId } from '../../src/contracts/dr';
import { loginRequestSchema, loginResultSchema, logoutAllResultSchema, meSchema, memberSchema, signupRequestSchema, withdrawRequestSchema, withdrawResultSchema, type TemporalUiLinks } from '../../src/contracts/api/auth';
import { parseInput } from '../../src/errors';
import { clearSessionCookie, currentUser, OPERATOR_ROLE, setSessionCookie } from '../auth-middleware';
import type { ApiScope } from '../openapi';

/**
 * The Temporal Web UI's list of one workflow's runs, as a template: `idTemplate` holds the
 * placeholder where the console puts the URL-encoded id. A list filtered by WorkflowId (not the
 * run's own page, which needs a run id) shows every run of an id that continues as new.
 */
function workflowListUrl(config: Config, idTemplate: string, placeholder: string): string {
  const query = `WorkflowId="${idTemplate}"`
    .split(placeholder)
    .map((part) => encodeURIComponent(part))
    .join(placeholder);
  return `${config.temporalUiUrl.replace(/\/+$/, '')}/namespaces/${encodeURIComponent(config.temporalNamespace)}/workflows?query=${query}`;
}

/** Links into the Temporal Web UI for an operator (members get none). */
export function temporalUiLinks(config: Config): TemporalUiLinks {
  return {
    url: config.temporalUiUrl,
    workflowUrl: workflowListUrl(config, '{workflowId}', '{workflowId}'),
    drWorkflowUrl: workflowListUrl(config, drWorkflowId('{vmId}'), '{vmId}'),
  };
}

export function authRoutes(api: ApiScope, accounts: AccountService, config: Config): void {
  const secure = config.sessionCookieSecure;
  const address = (req: Request) => req.ip ?? req.socket.remoteAddress ?? 'unknown';

  api.route(
    {
      method: 'post',
      path: '/signup',
      operationId: 'signup',
      tag: 'auth',
      auth: 'public',
      summary: 'Sign up',
      body: signupRequestSchema,
      responses: { 201: { description: 'the new member', body: memberSchema } },
      errors: {
        400: 'validation_failed: the username or password breaks the rules, or the username is reserved (fields name which)',
        409: 'username_taken',
        429: 'too_many_requests: too many sign-ups from this address, or from everywhere (Retry-After)',
        503: 'busy: too many passwords are being checked (Retry-After)',
      },
    },
    async (req, res) => {
      const input = parseInput(signupRequestSchema, req.body);
      const user = await accounts.signup(input, address(req));
      res.status(201).json(user);
    },
  );

  api.route(
    {
      method: 'post',
      path: '/login',
      operationId: 'login',
      tag: 'auth',
      auth: 'public',
      summary: 'Log in: a session token, also set as the session cookie',
      body: loginRequestSchema,
      responses: { 200: { description: 'a new session', body: loginResultSchema, headers: ['SetCookie'] } },
      errors: { 401: 'invalid_credentials', 429: 'too_many_requests: too many failed attempts for this username from this address, or from this address', 503: 'busy: too many passwords are being checked (Retry-After)' },
    },
    async (req, res) => {
      const input = parseInput(loginRequestSchema, req.body);
      const result = await accounts.login(input, address(req));
      setSessionCookie(res, result.token, result.expiresAt, secure);
      res.setHeader('Cache-Control', 'no-store');
      res.json({ token: result.token, tokenType: 'Bearer', expiresAt: result.expiresAt.toISOString(), user: result.user });
    },
  );

  api.route(
    {
      method: 'post',
      path: '/logout',
      operationId: 'logout',
      tag: 'auth',
      summary: 'Log out: revoke this session and clear the cookie',
      responses: { 204: { description: 'logged out', headers: ['SetCookie'] } },
    },
    async (req, res) => {
      if (req.sessionToken) await accounts.logout(req.sessionToken);
      clearSessionCookie(res, secure);
      res.status(204).end();
    },
  );

  api.route(
    {
      method: 'post',
      path: '/logout-all',
      operationId: 'logoutEverywhere',
      tag: 'auth',
      summary: 'Log out everywhere: revoke every session of the caller, this one included',
      responses: { 200: { description: 'how many sessions were revoked; the cookie is cleared', body: logoutAllResultSchema, headers: ['SetCookie'] } },
    },
    async (req, res) => {
      const revoked = await accounts.logoutEverywhere(currentUser(req).id);
      clearSessionCookie(res, secure);
      res.json({ revoked });
    },
  );

  api.route(
    { method: 'get', path: '/me', operationId: 'me', tag: 'auth', summary: 'Who am I (an operator also gets links into the Temporal Web UI)', responses: { 200: { description: 'the signed-in member', body: meSchema } } },
    async (req, res) => {
      const user = currentUser(req);
      const me = await accounts.me(user.id);
      if (!me) throw new Error(`session of ${user.id} outlived the member`);
      // Operators also get the Temporal Web UI's links; a member's answer never names the UI.
      res.json({ ...me, roles: user.roles, ...(user.roles.includes(OPERATOR_ROLE) ? { temporalUi: temporalUiLinks(config) } : {}) });
    },
  );

  api.route(
    {
      method: 'delete',
      path: '/me',
      operationId: 'withdraw',
      tag: 'auth',
      summary: 'Withdraw: delete the member and their data',
      body: withdrawRequestSchema,
      responses: { 200: { description: 'the member and their records are gone', body: withdrawResultSchema, headers: ['SetCookie'] } },
      errors: { 403: 'wrong_password', 409: 'member_owns_vms: delete the VMs first', 429: 'too_many_requests: too many wrong passwords' },
    },
    async (req, res) => {
      const { password } = parseInput(withdrawRequestSchema, req.body);
      const result = await accounts.withdraw(currentUser(req).id, password, address(req));
      clearSessionCookie(res, secure);
      res.json({ withdrawn: true, ...result });
    },
  );
}
