# One customer key per environment for everything at rest: buckets, logs,
# streams, SNS, Redshift, EMR. IAM policies grant its use per role; the key
# policy only adds the service principals that cannot act through IAM roles.

resource "aws_kms_key" "this" {
  description             = "MarketPulse ${var.name_prefix} data at rest"
  enable_key_rotation     = true
  deletion_window_in_days = var.deletion_window_days
  policy                  = data.aws_iam_policy_document.key.json
}

resource "aws_kms_alias" "this" {
  name          = "alias/${var.name_prefix}"
  target_key_id = aws_kms_key.this.key_id
}

data "aws_iam_policy_document" "key" {
  #checkov:skip=CKV_AWS_111:In a key policy "*" is the key itself. Control: only the account root administers it; IAM policies grant roles its use.
  #checkov:skip=CKV_AWS_356:In a key policy "*" is the key itself, not every resource. Control: the policy applies to this key only.
  #checkov:skip=CKV_AWS_109:Administration by the account root keeps the key manageable. Control: roles get its use only, through IAM policies.
  statement {
    sid       = "AccountAdministersAndDelegatesToIam"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:aws:iam::${var.account_id}:root"]
    }
  }
  statement {
    sid = "CloudWatchLogsEncrypts"
    # The actions that carry an encryption context: the condition below
    # never holds for the others (Describe*, which the Logs guide lists too).
    actions   = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["logs.${var.region}.amazonaws.com"]
    }
    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:aws:logs:${var.region}:${var.account_id}:log-group:*"]
    }
  }
  statement {
    sid       = "AlarmsAndBudgetsPublishToEncryptedTopics"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com", "budgets.amazonaws.com"]
    }
  }
}
