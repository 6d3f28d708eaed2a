# State lives in the bootstrap stack's bucket, locked in its DynamoDB table;
# each workspace (dev, stg, prod) keeps its state under env:/<workspace>/.
# The bucket, table and key are given at init: terraform init -backend-config=<file>.
terraform {
  backend "s3" {}
}
