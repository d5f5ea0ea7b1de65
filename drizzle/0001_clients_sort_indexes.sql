CREATE INDEX "clients_coins_sort_idx" ON "clients" USING btree ("coins_spent" desc,"name_lower","id");--> statement-breakpoint
CREATE INDEX "clients_requests_sort_idx" ON "clients" USING btree ("requests" desc,"name_lower","id");--> statement-breakpoint
CREATE INDEX "clients_tokens_sort_idx" ON "clients" USING btree (("input_tokens" + "output_tokens") desc,"name_lower","id");