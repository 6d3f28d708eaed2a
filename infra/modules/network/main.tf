# Two AZs, each with a public /22 (NAT, load balancers) and a private /22
# (EMR, Redshift, Batch, Fargate). Private subnets reach S3 through a gateway
# endpoint and the services in interface_endpoints through interface
# endpoints; NAT reaches the rest. Without NAT, interface_endpoints must
# cover every AWS API the private subnets call (docs/network.md).

locals {
  account = data.aws_caller_identity.current.account_id
  # IAM's service prefix where it is not the endpoint's service name.
  iam_prefix = { kinesis-streams = "kinesis" }
  # Buckets AWS owns that the private subnets read through the S3 endpoint:
  # ECR's image layers (ECR's "Amazon ECR interface VPC endpoints"), the EMR
  # repository and the Amazon Linux 2023 packages that EMR 7's nodes and
  # Batch's ECS_AL2023 hosts install (EMR's "Sample policies for private
  # subnets that access Amazon S3"). Layers come through presigned URLs and
  # packages unsigned, so no principal of this account signs these reads.
  aws_owned_objects = [
    "arn:aws:s3:::prod-${var.region}-starport-layer-bucket/*",
    "arn:aws:s3:::repo.${var.region}.emr.amazonaws.com/*",
    "arn:aws:s3:::al2023-repos-${var.region}-de612dc2/*",
  ]
  # Interface endpoints: this account's principals only. S3: this account's
  # principals on this account's buckets, and AWS's repositories read-only;
  # a foreign bucket is out of reach whatever its own policy allows.
  endpoint_policy = merge(
    {
      for service in var.interface_endpoints : service => {
        Version = "2012-10-17"
        Statement = [{
          Sid       = "ThisAccountOnly"
          Effect    = "Allow"
          Principal = "*"
          Action    = format("%s:*", lookup(local.iam_prefix, service, split(".", service)[0]))
          Resource  = "*"
          Condition = { StringEquals = { "aws:PrincipalAccount" = local.account } }
        }]
      }
    },
    {
      s3 = {
        Version = "2012-10-17"
        Statement = [
          {
            Sid       = "ThisAccountsBuckets"
            Effect    = "Allow"
            Principal = "*"
            Action    = "s3:*"
            Resource  = "*"
            Condition = { StringEquals = { "aws:PrincipalAccount" = local.account, "aws:ResourceAccount" = local.account } }
          },
          {
            Sid       = "AwsRepositoriesReadOnly"
            Effect    = "Allow"
            Principal = "*"
            Action    = "s3:GetObject"
            Resource  = local.aws_owned_objects
          },
          {
            # EMR's nodes push the logs AWS support reads to buckets AWS owns
            # (EMR's "Sample policies for private subnets that access
            # Amazon S3", AccessToEMRLogBucketsForSupport).
            Sid       = "EmrSupportLogsWriteOnly"
            Effect    = "Allow"
            Principal = "*"
            Action    = ["s3:PutObject", "s3:AbortMultipartUpload"]
            Resource  = ["arn:aws:s3:::aws157-logs-prod-${var.region}/*", "arn:aws:s3:::aws157-logs-prod/*"]
          },
        ]
      }
    },
  )
  # /22s from the start of the block: public 0-1, private 2-3.
  public_cidrs  = [for i in range(2) : cidrsubnet(var.cidr, 22 - tonumber(split("/", var.cidr)[1]), i)]
  private_cidrs = [for i in range(2) : cidrsubnet(var.cidr, 22 - tonumber(split("/", var.cidr)[1]), i + 2)]
}

resource "aws_vpc" "this" {
  cidr_block           = var.cidr
  enable_dns_support   = true
  enable_dns_hostnames = true
  # AmazonEMRServicePolicy_v2 creates EMR's default security groups (the
  # transient fleet cluster names none) only in a VPC so tagged.
  tags = { Name = var.name_prefix, for-use-with-amazon-emr-managed-policies = "true" }
}

# No rules: nothing may use the default group by accident.
resource "aws_default_security_group" "this" {
  vpc_id = aws_vpc.this.id
}

resource "aws_subnet" "public" {
  count             = 2
  vpc_id            = aws_vpc.this.id
  cidr_block        = local.public_cidrs[count.index]
  availability_zone = var.availability_zones[count.index]
  tags              = { Name = "${var.name_prefix}-public-${count.index}", tier = "public" }
}

resource "aws_subnet" "private" {
  count             = 2
  vpc_id            = aws_vpc.this.id
  cidr_block        = local.private_cidrs[count.index]
  availability_zone = var.availability_zones[count.index]
  # AmazonEMRServicePolicy_v2 launches EMR's instances only into subnets so tagged.
  tags = { Name = "${var.name_prefix}-private-${count.index}", tier = "private", for-use-with-amazon-emr-managed-policies = "true" }
}

resource "aws_internet_gateway" "this" {
  vpc_id = aws_vpc.this.id
  tags   = { Name = var.name_prefix }
}

resource "aws_route_table" "public" {
  vpc_id = aws_vpc.this.id
  route {
    cidr_block = "0.0.0.0/0"
    gateway_id = aws_internet_gateway.this.id
  }
  tags = { Name = "${var.name_prefix}-public" }
}

resource "aws_route_table_association" "public" {
  count          = 2
  subnet_id      = aws_subnet.public[count.index].id
  route_table_id = aws_route_table.public.id
}

resource "aws_eip" "nat" {
  count  = var.nat_gateways
  domain = "vpc"
  tags   = { Name = "${var.name_prefix}-nat-${count.index}" }
}

resource "aws_nat_gateway" "this" {
  count         = var.nat_gateways
  allocation_id = aws_eip.nat[count.index].id
  subnet_id     = aws_subnet.public[count.index].id
  tags          = { Name = "${var.name_prefix}-${count.index}" }
}

resource "aws_route_table" "private" {
  count  = 2
  vpc_id = aws_vpc.this.id
  dynamic "route" {
    for_each = var.nat_gateways > 0 ? [1] : []
    content {
      cidr_block     = "0.0.0.0/0"
      nat_gateway_id = aws_nat_gateway.this[min(count.index, var.nat_gateways - 1)].id
    }
  }
  tags = { Name = "${var.name_prefix}-private-${count.index}" }
}

resource "aws_route_table_association" "private" {
  count          = 2
  subnet_id      = aws_subnet.private[count.index].id
  route_table_id = aws_route_table.private[count.index].id
}

# Endpoints carry this account's calls only (AWS's default endpoint policy
# allows any principal). S3 stays open to every bucket: EMR and ECR read
# AWS-owned buckets through it.
data "aws_caller_identity" "current" {}

resource "aws_vpc_endpoint" "s3" {
  vpc_id            = aws_vpc.this.id
  service_name      = "com.amazonaws.${var.region}.s3"
  vpc_endpoint_type = "Gateway"
  route_table_ids   = aws_route_table.private[*].id
  policy            = jsonencode(local.endpoint_policy["s3"])
  tags              = { Name = "${var.name_prefix}-s3" }
}

resource "aws_security_group" "endpoints" {
  name        = "${var.name_prefix}-endpoints"
  description = "HTTPS from inside the VPC to interface endpoints"
  vpc_id      = aws_vpc.this.id
  ingress {
    description = "HTTPS from the VPC"
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = [var.cidr]
  }
  egress {
    description = "Answers within the VPC"
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = [var.cidr]
  }
}

resource "aws_vpc_endpoint" "interface" {
  for_each            = toset(var.interface_endpoints)
  vpc_id              = aws_vpc.this.id
  service_name        = "com.amazonaws.${var.region}.${each.key}"
  vpc_endpoint_type   = "Interface"
  subnet_ids          = aws_subnet.private[*].id
  security_group_ids  = [aws_security_group.endpoints.id]
  private_dns_enabled = true
  policy              = jsonencode(local.endpoint_policy[each.key])
  tags                = { Name = "${var.name_prefix}-${each.key}" }
}

resource "aws_cloudwatch_log_group" "flow" {
  name              = "/marketpulse/${var.name_prefix}/vpc-flow"
  retention_in_days = var.flow_log_retention_days
  kms_key_id        = var.kms_key_arn
}

resource "aws_iam_role" "flow" {
  name = "${var.name_prefix}-vpc-flow"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "vpc-flow-logs.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
}

resource "aws_iam_role_policy" "flow" {
  name = "write-flow-logs"
  role = aws_iam_role.flow.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid      = "DeliverFlowLogs"
      Effect   = "Allow"
      Action   = ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
      Resource = "${aws_cloudwatch_log_group.flow.arn}:*"
    }]
  })
}

resource "aws_flow_log" "this" {
  vpc_id          = aws_vpc.this.id
  traffic_type    = "REJECT"
  log_destination = aws_cloudwatch_log_group.flow.arn
  iam_role_arn    = aws_iam_role.flow.arn
}

# Compute that only calls AWS APIs (producer tasks, Batch hosts): HTTPS out,
# nothing in.
resource "aws_security_group" "https_egress" {
  #checkov:skip=CKV2_AWS_5:checkov looks for the attachment in this module only. Control: producer_fleet attaches it to ECS tasks and Batch hosts.
  name        = "${var.name_prefix}-https-egress"
  description = "HTTPS out to AWS APIs (S3 through the gateway endpoint); no ingress"
  vpc_id      = aws_vpc.this.id
  egress {
    description = "HTTPS to AWS APIs"
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
}
