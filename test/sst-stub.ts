/**
 * A recording stand-in for the globals SST gives sst.config.ts (`$config`, `$app`, `sst`, `aws`):
 * every component constructed is recorded with its arguments, so test/infra.test.ts can evaluate
 * the real config's `run()` and assert what it declares, with no Pulumi, no AWS and no sst CLI.
 * Outputs are plain values with an `apply`, enough for the config's own use of them.
 */
export interface Output<T> {
  value: T;
  apply<U>(fn: (value: T) => U): Output<U>;
}

export function output<T>(value: T): Output<T> {
  return { value, apply: (fn) => output(fn(value)) };
}

export interface Recorded {
  type: 'Secret' | 'Function' | 'Queue' | 'CronV2' | 'Subscription' | 'Invocation';
  name: string;
  args: any;
  opts?: any;
  component: any;
}

export interface SstStub {
  resources: Recorded[];
  of(type: Recorded['type']): Recorded[];
  named(name: string): Recorded;
  uninstall(): void;
}

const globalNames = ['$config', '$app', 'sst', 'aws'] as const;

export function installSstStub(stage: string): SstStub {
  const resources: Recorded[] = [];
  const record = (type: Recorded['type'], name: string, args: unknown, opts: unknown, component: unknown) =>
    resources.push({ type, name, args, opts, component });

  class Secret {
    readonly urn: Output<string>;
    readonly value: Output<string | undefined>;
    constructor(readonly name: string, placeholder?: string) {
      this.urn = output(`urn:sst:Secret::${name}`);
      this.value = output(placeholder);
      record('Secret', name, { placeholder }, undefined, this);
    }
  }
  class Function {
    readonly urn: Output<string>;
    readonly name: Output<string>;
    readonly arn: Output<string>;
    readonly url: Output<string>;
    constructor(name: string, args: unknown, opts?: unknown) {
      this.urn = output(`urn:sst:Function::${name}`);
      this.name = output(`guanxi-${stage}-${name}`);
      this.arn = output(`arn:aws:lambda:eu-central-1:123456789012:function:guanxi-${stage}-${name}`);
      this.url = output(`https://${name.toLowerCase()}.lambda-url.eu-central-1.on.aws/`);
      record('Function', name, args, opts, this);
    }
  }
  class Queue {
    readonly urn: Output<string>;
    readonly arn: Output<string>;
    readonly url: Output<string>;
    constructor(readonly name: string, args?: unknown, opts?: unknown) {
      this.urn = output(`urn:sst:Queue::${name}`);
      this.arn = output(`arn:aws:sqs:eu-central-1:123456789012:guanxi-${stage}-${name}`);
      this.url = output(`https://sqs.eu-central-1.amazonaws.com/123456789012/guanxi-${stage}-${name}`);
      record('Queue', name, args ?? {}, opts, this);
    }
    subscribe(subscriber: unknown, args?: unknown, opts?: unknown) {
      record('Subscription', `${this.name}Subscriber`, { subscriber, ...(args as object) }, opts, this);
      return {};
    }
  }
  class CronV2 {
    constructor(name: string, args: unknown, opts?: unknown) {
      record('CronV2', name, args, opts, this);
    }
  }
  class Invocation {
    readonly result = output('{}');
    constructor(name: string, args: unknown, opts?: unknown) {
      record('Invocation', name, args, opts, this);
    }
  }

  const saved = new Map(globalNames.map((name) => [name, (globalThis as any)[name]]));
  Object.assign(globalThis, {
    $config: (config: unknown) => config,
    $app: { name: 'guanxi', stage },
    sst: { Secret, aws: { Function, Queue, CronV2 } },
    aws: { lambda: { Invocation } },
  });

  return {
    resources,
    of: (type) => resources.filter((r) => r.type === type),
    named(name) {
      const found = resources.find((r) => r.name === name);
      if (!found) throw new Error(`No component named ${name} (have: ${resources.map((r) => r.name).join(', ')})`);
      return found;
    },
    uninstall() {
      for (const [name, value] of saved) {
        if (value === undefined) delete (globalThis as any)[name];
        else (globalThis as any)[name] = value;
      }
    },
  };
}
