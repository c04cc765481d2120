package live

import (
	"sort"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// taskBalancer is a cooperative, sticky group balancer that assigns whole
// partition numbers: a member that gets partition p of one input gets
// partition p of every input, so it can run task p. Members keep the
// numbers they own (up to an even share), free numbers go to the least
// loaded members, and the plan is adjusted for cooperative rebalancing
// (a number moving between members is first revoked, then assigned in the
// next round), so a task never runs on two members at once.
type taskBalancer struct {
	coop kgo.GroupBalancer // join metadata and assignment parsing
}

func newTaskBalancer() *taskBalancer {
	return &taskBalancer{coop: kgo.CooperativeStickyBalancer()}
}

func (*taskBalancer) ProtocolName() string { return "reckon-tasks" }
func (*taskBalancer) IsCooperative() bool  { return true }

func (b *taskBalancer) JoinGroupMetadata(interests []string, current map[string][]int32, generation int32) []byte {
	return b.coop.JoinGroupMetadata(interests, current, generation)
}

func (b *taskBalancer) ParseSyncAssignment(assignment []byte) (map[string][]int32, error) {
	return b.coop.ParseSyncAssignment(assignment)
}

func (b *taskBalancer) MemberBalancer(members []kmsg.JoinGroupResponseMember) (kgo.GroupMemberBalancer, map[string]struct{}, error) {
	cb, err := kgo.NewConsumerBalancer(b, members)
	if err != nil {
		return nil, nil, err
	}
	return cb, cb.MemberTopics(), nil
}

// Balance assigns partition numbers 0…n-1, n the smallest partition count
// of the topics (start-up checks make them equal).
func (b *taskBalancer) Balance(cb *kgo.ConsumerBalancer, topics map[string]int32) kgo.IntoSyncAssignment {
	n := int32(-1)
	names := make([]string, 0, len(topics))
	for t, c := range topics {
		if n < 0 || c < n {
			n = c
		}
		names = append(names, t)
	}
	sort.Strings(names)
	members := cb.Members()
	owned := make([][]int32, len(members))
	taken := map[int32]bool{}
	cb.EachMember(func(m *kmsg.JoinGroupResponseMember, meta *kmsg.ConsumerMemberMetadata) {
		i := memberIndex(members, m)
		for _, op := range meta.OwnedPartitions {
			for _, p := range op.Partitions {
				if p < n && !taken[p] {
					taken[p] = true
					owned[i] = append(owned[i], p)
				}
			}
		}
	})
	numbers := assignNumbers(n, owned)
	plan := cb.NewPlan()
	for i := range members {
		for _, t := range names {
			plan.AddPartitions(&members[i], t, numbers[i])
		}
	}
	plan.AdjustCooperative(cb)
	return plan
}

func memberIndex(members []kmsg.JoinGroupResponseMember, m *kmsg.JoinGroupResponseMember) int {
	for i := range members {
		if members[i].MemberID == m.MemberID {
			return i
		}
	}
	return 0
}

// assignNumbers spreads partition numbers 0…n-1 over members, each keeping
// what it owns up to its share; the result differs in size by at most one
// between members.
func assignNumbers(n int32, owned [][]int32) [][]int32 {
	m := len(owned)
	out := make([][]int32, m)
	if m == 0 {
		return out
	}
	ceil := (int(n) + m - 1) / m
	used := map[int32]bool{}
	for i, ps := range owned {
		ps = append([]int32(nil), ps...)
		sort.Slice(ps, func(a, b int) bool { return ps[a] < ps[b] })
		for _, p := range ps {
			if len(out[i]) < ceil {
				out[i] = append(out[i], p)
				used[p] = true
			}
		}
	}
	for p := range n {
		if used[p] {
			continue
		}
		out[smallest(out)] = append(out[smallest(out)], p)
	}
	// Even out: move from the largest to the smallest until sizes differ by
	// at most one.
	for {
		lo, hi := smallest(out), largest(out)
		if len(out[hi])-len(out[lo]) <= 1 {
			break
		}
		last := out[hi][len(out[hi])-1]
		out[hi] = out[hi][:len(out[hi])-1]
		out[lo] = append(out[lo], last)
	}
	for _, ps := range out {
		sort.Slice(ps, func(a, b int) bool { return ps[a] < ps[b] })
	}
	return out
}

func smallest(out [][]int32) int {
	j := 0
	for i := range out {
		if len(out[i]) < len(out[j]) {
			j = i
		}
	}
	return j
}

func largest(out [][]int32) int {
	j := 0
	for i := range out {
		if len(out[i]) > len(out[j]) {
			j = i
		}
	}
	return j
}
