/** Async job queries. */
import { invalidParamValue, permissionDenied } from '../api-error';
import { renderJob } from '../render';
import { fields, LISTALL, listResponse, PAGING, type CommandDef } from './types';

const JOB_FIELDS = fields(
  'jobid:string:the ID of the async job',
  'cmd:string:the async command executed',
  'jobstatus:integer:the current job status-should be 0 for PENDING',
  'jobprocstatus:integer:the progress information of the PENDING job',
  'jobresultcode:integer:the result code for the job',
  'jobresulttype:string:the result type',
  'jobresult:responseobject:the result reason',
  'jobinstancetype:string:the instance/entity object related to the job',
  'jobinstanceid:string:the unique ID of the instance/entity object related to the job',
  'created:date:the created date of the job',
  'completed:date:the completed date of the job',
  'accountid:string:the account id that executed the async command',
  'userid:string:the user that executed the async command',
);

export const queryAsyncJobResult: CommandDef = {
  name: 'queryAsyncJobResult',
  description: 'Retrieves the current status of asynchronous job.',
  isasync: false,
  params: [{ name: 'jobid', type: 'uuid', required: true, description: 'the ID of the asynchronous job', related: 'listAsyncJobs' }],
  response: JOB_FIELDS,
  handle({ engine, account, params, lower }) {
    const jobid = params.str('jobid')!;
    const job = engine.jobs.get(jobid);
    if (!job) throw invalidParamValue(lower, 'jobid', jobid);
    if (!engine.owns(account, job.accountId)) {
      throw permissionDenied(`Account '${account.name}' does not have permission to operate with resource AsyncJob ${jobid}`);
    }
    return renderJob(engine, job);
  },
};

export const listAsyncJobs: CommandDef = {
  name: 'listAsyncJobs',
  description: 'Lists all pending asynchronous jobs for the account.',
  isasync: false,
  params: [LISTALL, ...PAGING],
  response: JOB_FIELDS,
  handle({ engine, account, params }) {
    const all = account.admin && params.bool('listall', false);
    const keyword = params.str('keyword')?.toLowerCase();
    const items = [...engine.jobs.values()]
      .filter((j) => (all || j.accountId === account.id) && (!keyword || j.cmd.toLowerCase().includes(keyword)))
      .map((j) => renderJob(engine, j));
    return listResponse('asyncjobs', items, params);
  },
};
