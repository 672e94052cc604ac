import { describe, expect, it } from 'vitest';
import { ATTACH_PLACEHOLDERS, DEFAULT_REMOTE_ATTACH, attachTemplateProblem, remoteAttachArgv } from '../../src/domain/attach-command.js';

const values = { host: 'gpu-1', pod: 'gpu-1', node: 'beta', socket: 'hornets-demo', session: 'hornets', pane: '%3', window: 'hornets:anga', agent: 'anga' };

describe('remote attach command templates', () => {
  it('the default is ssh -t {host} tmux -L {socket} attach -t {pane}, one argv element per word', () => {
    expect(DEFAULT_REMOTE_ATTACH).toBe('ssh -t {host} tmux -L {socket} attach -t {pane}');
    expect(remoteAttachArgv(DEFAULT_REMOTE_ATTACH, values)).toEqual(['ssh', '-t', 'gpu-1', 'tmux', '-L', 'hornets-demo', 'attach', '-t', '%3']);
  });

  it('the kubectl form', () => {
    expect(remoteAttachArgv('kubectl exec -it {pod} -- tmux -L {socket} attach -t {pane}', values)).toEqual([
      'kubectl',
      'exec',
      '-it',
      'gpu-1',
      '--',
      'tmux',
      '-L',
      'hornets-demo',
      'attach',
      '-t',
      '%3',
    ]);
  });

  it('splits the template first: a value with spaces or shell characters stays one argument, never re-split or interpreted', () => {
    const evil = { ...values, host: 'a b; rm -rf ~ $(id)' };
    expect(remoteAttachArgv('ssh -t {host}', evil)).toEqual(['ssh', '-t', 'a b; rm -rf ~ $(id)']);
    // Several placeholders and text in one word.
    expect(remoteAttachArgv('ssh admin@{host} -p 22 tmux -L {socket} attach -t {session}:{agent}', values)).toEqual([
      'ssh',
      'admin@gpu-1',
      '-p',
      '22',
      'tmux',
      '-L',
      'hornets-demo',
      'attach',
      '-t',
      'hornets:anga',
    ]);
    // An array template is taken word by word as given.
    expect(remoteAttachArgv(['ssh', '-o', 'ProxyJump=bastion host', '{host}'], values)).toEqual(['ssh', '-o', 'ProxyJump=bastion host', 'gpu-1']);
  });

  it('rejects unknown placeholders and empty templates with a clear message', () => {
    expect(attachTemplateProblem('ssh -t {hots} tmux attach -t {pane}')).toBe(`unknown placeholder {hots}: use ${ATTACH_PLACEHOLDERS.map((p) => `{${p}}`).join(', ')}`);
    expect(attachTemplateProblem('   ')).toMatch(/empty/);
    expect(attachTemplateProblem([])).toMatch(/empty/);
    expect(attachTemplateProblem(DEFAULT_REMOTE_ATTACH)).toBeNull();
    expect(attachTemplateProblem('kubectl exec -it {pod} -- tmux -L {socket} attach -t {window}')).toBeNull();
  });
});
