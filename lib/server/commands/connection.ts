// Connection commands: PING, ECHO, QUIT, SELECT, AUTH, HELLO, CLIENT, RESET.
import crypto from 'node:crypto';
import { ReplyError, SYNTAX } from '../errors';
import { intArg } from '../int';
import { command, type CommandSpec, type Context, type Session } from '../context';

export const SERVER_VERSION = '7.2.0'; // the Redis version whose behaviour we follow, for clients that check it

function ping(ctx: Context, args: Buffer[]): void {
  if (args.length > 2) throw new ReplyError(`ERR wrong number of arguments for 'ping' command`);
  if (args.length === 2) ctx.w.bulk(args[1]);
  else ctx.w.simple('PONG');
}

function select(ctx: Context, args: Buffer[]): void {
  if (intArg(args[1]) !== 0) throw new ReplyError('ERR DB index is out of range');
  ctx.w.simple('OK');
}

// Constant-time: both sides are hashed first, so neither the length nor a prefix leaks.
function passwordMatches(expected: string, given: Buffer): boolean {
  const a = crypto.createHash('sha256').update(expected).digest();
  const b = crypto.createHash('sha256').update(given).digest();
  return crypto.timingSafeEqual(a, b);
}

function authenticate(ctx: Context, user: Buffer | undefined, pass: Buffer): void {
  const required = ctx.server.settings.requirepass;
  if (required === undefined) {
    throw new ReplyError('ERR AUTH <password> called without any password configured for the default user. '
      + 'Are you sure your configuration is correct?');
  }
  const userOk = user === undefined || user.toString() === 'default';
  if (!passwordMatches(required, pass) || !userOk) {
    throw new ReplyError('WRONGPASS invalid username-password pair or user is disabled.');
  }
  ctx.session.authenticated = true;
}

function auth(ctx: Context, args: Buffer[]): void {
  if (args.length > 3) throw new ReplyError(SYNTAX);
  authenticate(ctx, args.length === 3 ? args[1] : undefined, args[args.length - 1]);
  ctx.w.simple('OK');
}

// HELLO [protover [AUTH username password] [SETNAME clientname]]
function hello(ctx: Context, args: Buffer[]): void {
  let protocol = ctx.session.protocol;
  if (args.length >= 2) {
    const v = Number(args[1].toString('latin1'));
    if (!Number.isInteger(v)) throw new ReplyError('ERR Protocol version is not an integer or out of range');
    if (v !== 2 && v !== 3) throw new ReplyError('NOPROTO unsupported protocol version');
    protocol = v;
  }
  let name: string | undefined;
  for (let i = 2; i < args.length; i++) {
    const opt = args[i].toString('latin1').toUpperCase();
    if (opt === 'AUTH' && i + 2 < args.length) {
      authenticate(ctx, args[i + 1], args[i + 2]);
      i += 2;
    } else if (opt === 'SETNAME' && i + 1 < args.length) {
      name = checkName(args[++i]);
    } else {
      throw new ReplyError(`ERR Syntax error in HELLO option '${args[i].toString()}'`);
    }
  }
  if (ctx.server.settings.requirepass !== undefined && !ctx.session.authenticated) {
    throw new ReplyError('NOAUTH HELLO must be called with the client already authenticated, otherwise the '
      + 'HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP '
      + 'protocol version at the same time');
  }
  if (name !== undefined) ctx.session.name = name;
  ctx.session.protocol = protocol;
  ctx.w.protocol = protocol;
  ctx.w.map(7);
  ctx.w.bulk('server');
  ctx.w.bulk('redis');
  ctx.w.bulk('version');
  ctx.w.bulk(SERVER_VERSION);
  ctx.w.bulk('proto');
  ctx.w.integer(protocol);
  ctx.w.bulk('id');
  ctx.w.integer(ctx.session.id);
  ctx.w.bulk('mode');
  ctx.w.bulk('standalone');
  ctx.w.bulk('role');
  ctx.w.bulk(ctx.server.role());
  ctx.w.bulk('modules');
  ctx.w.array(0);
}

function checkName(b: Buffer): string {
  for (const c of b) {
    if (c < 33 || c > 126) throw new ReplyError('ERR Client names cannot contain spaces, newlines or special characters.');
  }
  return b.toString('latin1');
}

/** One CLIENT LIST line, in Redis's field order (the fields we have). */
export function clientLine(s: Session, now: number): string {
  return `id=${s.id} addr=${s.address} name=${s.name} age=${Math.floor((now - s.createdAt) / 1000)} `
    + `idle=${Math.floor((now - s.lastActive) / 1000)} db=0 multi=${s.inMulti ? 0 : -1} resp=${s.protocol} `
    + `lib-name=${s.libName} lib-ver=${s.libVersion} cmd=${s.lastCommand}`;
}

function client(ctx: Context, args: Buffer[]): void {
  const sub = args[1].toString('latin1').toUpperCase();
  const s = ctx.session;
  if (sub === 'ID' && args.length === 2) ctx.w.integer(s.id);
  else if (sub === 'GETNAME' && args.length === 2) {
    if (s.name === '') ctx.w.nil();
    else ctx.w.bulk(s.name);
  } else if (sub === 'SETNAME' && args.length === 3) {
    s.name = checkName(args[2]);
    ctx.w.simple('OK');
  } else if (sub === 'SETINFO' && args.length === 4) {
    const attr = args[2].toString('latin1').toUpperCase();
    const value = checkName(args[3]);
    if (attr === 'LIB-NAME') s.libName = value;
    else if (attr === 'LIB-VER') s.libVersion = value;
    else throw new ReplyError(`ERR Unrecognized option '${args[2].toString()}'`);
    ctx.w.simple('OK');
  } else if (sub === 'LIST' && args.length === 2) {
    const now = Date.now();
    ctx.w.verbatim([...ctx.server.sessions()].map((x) => `${clientLine(x, now)}\n`).join(''));
  } else if (sub === 'INFO' && args.length === 2) {
    ctx.w.verbatim(`${clientLine(s, Date.now())}\n`);
  } else {
    throw new ReplyError(`ERR unknown subcommand or wrong number of arguments for '${args[1].toString()}'. Try CLIENT HELP.`);
  }
}

function quit(ctx: Context): void {
  ctx.w.simple('OK');
  ctx.closeAfterReply();
}

function reset(ctx: Context): void {
  ctx.session.protocol = 2;
  ctx.w.protocol = 2;
  ctx.session.name = '';
  if (ctx.server.settings.requirepass !== undefined) ctx.session.authenticated = false;
  ctx.w.simple('RESET');
}

const C = ['fast', 'connection'];

export const connectionCommands: CommandSpec[] = [
  command('ping', -1, C, ping),
  command('echo', 2, C, (ctx, a) => ctx.w.bulk(a[1])),
  command('quit', -1, [...C, 'noauth'], quit),
  command('select', 2, C, select),
  command('auth', -2, [...C, 'noauth'], auth),
  command('hello', -1, [...C, 'noauth'], hello),
  command('client', -2, C, client),
  command('reset', 1, [...C, 'noauth'], reset),
];
