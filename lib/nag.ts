// Acknowledging cdk-nag findings. cdk-nag 3 reads acknowledgements from CDK's own
// Validations metadata, so the constructs need nothing from cdk-nag itself; an
// acknowledgement on a construct covers everything beneath it. Findings are acknowledged
// one by one (`RuleId[finding]`) wherever the rule reports findings, so a new wildcard
// added later is reported rather than silently covered.
import { Stack, Validations } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';

export function acknowledge(scope: IConstruct, reason: string, ...ids: string[]): void {
  Validations.of(scope).acknowledge(...ids.map((id) => ({ id, reason })));
}

/** The id of AwsSolutions-IAM5's finding on a wildcard `Resource` in scope's stack. */
export function wildcardResourceFinding(scope: IConstruct, arn: string): string {
  return `AwsSolutions-IAM5[Resource::${flatten(Stack.of(scope).resolve(arn))}]`;
}

/** The id of AwsSolutions-IAM5's finding on a wildcard `Action`. */
export function wildcardActionFinding(action: string): string {
  return `AwsSolutions-IAM5[Action::${action}]`;
}

// cdk-nag names a resource by flattening its CloudFormation expression the same way:
// `<Logical.Attr>` for Fn::GetAtt, `<Ref>` for Ref, Fn::Join joined.
function flatten(node: unknown): string {
  if (typeof node === 'string') return node.replace(/\$\{/g, '<').replace(/\}/g, '>');
  if (node && typeof node === 'object') {
    const fn = node as Record<string, unknown>;
    if (Array.isArray(fn['Fn::Join'])) {
      const [delimiter, items] = fn['Fn::Join'] as [string, unknown[]];
      return items.map(flatten).join(delimiter);
    }
    if (fn['Fn::Sub'] !== undefined) return flatten(fn['Fn::Sub']);
    if (Array.isArray(fn['Fn::GetAtt'])) {
      const [resource, attribute] = fn['Fn::GetAtt'] as [unknown, unknown];
      return `<${flatten(resource)}.${flatten(attribute)}>`;
    }
    if (fn.Ref !== undefined) return `<${flatten(fn.Ref)}>`;
  }
  return JSON.stringify(node);
}
